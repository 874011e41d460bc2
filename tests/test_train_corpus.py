"""Corpus builder: segments, normalization stats, labels, bad files."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from cak_train.corpus import (  # noqa: E402
    CorpusError,
    compress,
    load_corpus,
    load_segment,
    normalize,
    prepare,
    scale_labels,
    spectral_flatness,
    stft_magnitude,
)

pytestmark = pytest.mark.train

SR = 44100


def write_material(folder: Path) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(SR) / SR
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / "a_sine.wav", 0.5 * np.sin(2 * np.pi * 440 * t), SR)
    sf.write(folder / "b_noise.flac", 0.3 * rng.standard_normal(SR), SR)
    sf.write(folder / "c_chirp_22k.wav", 0.4 * np.sin(2 * np.pi * (200 + 800 * t[: SR // 2]) * t[: SR // 2]), 22050)
    (folder / "d_broken.wav").write_bytes(b"RIFF not really a wav")


def test_stft_matches_librosa() -> None:
    librosa = pytest.importorskip("librosa")
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    expected = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
    assert np.allclose(stft_magnitude(x, 2048, 512), expected, atol=1e-4)


def test_segment_is_centred_padded_and_faded(tmp_path: Path) -> None:
    path = tmp_path / "ramp.wav"
    sf.write(path, np.ones(SR * 3, dtype=np.float32) * 0.5, SR, subtype="FLOAT")
    seg = load_segment(path, SR, seconds=2.0, fade=0.5)
    assert seg.shape == (2 * SR,) and seg[0] == 0.0 and seg[-1] == 0.0 and seg[SR] == 0.5
    short = load_segment(path, SR, seconds=4.0, fade=0.0)
    assert short.shape == (4 * SR,) and short[3 * SR - 1] == 0.5 and not short[3 * SR:].any()


def test_prepare_stats_labels_and_bad_files(tmp_path: Path) -> None:
    write_material(tmp_path / "audio")
    log = io.StringIO()
    corpus = prepare(tmp_path / "audio", tmp_path / "corpus", labels="random", seed=3, seconds=1.0, fade=0.1,
                     log=log, progress=False)
    assert "d_broken.wav" in log.getvalue() and corpus.meta["skipped"] == 1
    assert corpus.magnitudes.shape == (3, 1025, 1 + SR // 512)
    assert corpus.meta["sources"] == ["a_sine.wav", "b_noise.flac", "c_chirp_22k.wav"]
    assert np.allclose(corpus.labels, np.random.default_rng(3).uniform(0.1, 1.0, 3))
    compressed = np.stack([compress(stft_magnitude(load_segment(tmp_path / "audio" / s, SR, 1.0, 0.1), 2048, 512), 10.0)
                           for s in corpus.meta["sources"]])
    norm = corpus.meta["normalization"]
    low, high = np.percentile(compressed, [0.01, 99.99])
    assert norm["global_low"] == pytest.approx(low, abs=1e-3) and norm["global_high"] == pytest.approx(high, abs=1e-3)
    expected = normalize(compressed, norm["global_low"], norm["global_high"], 0.85)
    assert np.allclose(corpus.magnitudes, expected, atol=1e-6)
    assert load_corpus(tmp_path / "corpus").meta["sha256"] == corpus.meta["sha256"]


def test_flatness_labels_order_tonal_below_noisy(tmp_path: Path) -> None:
    write_material(tmp_path / "audio")
    corpus = prepare(tmp_path / "audio", tmp_path / "corpus", labels="flatness", seconds=1.0, fade=0.1,
                     log=io.StringIO(), progress=False)
    labels = dict(zip(corpus.meta["sources"], corpus.labels))
    assert labels["b_noise.flac"] == pytest.approx(1.0) and labels["a_sine.wav"] < 0.2
    assert min(corpus.labels) == pytest.approx(0.1)


def test_label_scales() -> None:
    values = np.array([3.0, 4.0, 5.0, 18.0])  # one outlier: min-max crowds the rest near the bottom
    assert scale_labels(values) == pytest.approx([0.1, 0.1 + 0.9 / 15, 0.1 + 1.8 / 15, 1.0])
    assert scale_labels(values, "rank") == pytest.approx([0.1, 0.4, 0.7, 1.0])
    assert scale_labels(np.array([2.0, 1.0, 2.0]), "rank") == pytest.approx([1.0, 0.1, 1.0])
    assert scale_labels(np.full(3, 5.0), "rank") == pytest.approx([0.55] * 3)
    with pytest.raises(CorpusError, match="unknown label scale"):
        scale_labels(values, "log")


def test_rank_scaled_flatness_labels_are_evenly_spread(tmp_path: Path) -> None:
    write_material(tmp_path / "audio")
    corpus = prepare(tmp_path / "audio", tmp_path / "corpus", labels="flatness", label_scale="rank", seconds=1.0,
                     fade=0.1, log=io.StringIO(), progress=False)
    labels = dict(zip(corpus.meta["sources"], corpus.labels))
    assert sorted(corpus.labels) == pytest.approx([0.1, 0.55, 1.0])
    assert labels["b_noise.flac"] == pytest.approx(1.0)  # the noisiest, whatever the gap to the tonal two
    assert corpus.meta["label_scale"] == "rank"


def test_flatness_of_white_noise_is_high() -> None:
    noise = np.random.default_rng(1).standard_normal(SR)
    t = np.arange(SR) / SR
    assert spectral_flatness(stft_magnitude(noise, 2048, 512)) > 0.4
    assert spectral_flatness(stft_magnitude(np.sin(2 * np.pi * 440 * t), 2048, 512)) < 0.01


def test_prepare_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no audio files"):
        prepare(tmp_path / "empty", tmp_path / "c", progress=False)
    with pytest.raises(CorpusError, match="not a prepared corpus"):
        load_corpus(tmp_path / "empty")
