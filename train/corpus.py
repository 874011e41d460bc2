"""Corpus builder: audio files -> centred, faded segments -> globally normalized STFT magnitudes + labels.

A corpus folder holds ``magnitudes.npy`` (segments x bins x frames, float32, normalized to 0..1
exactly as the runtime's reference mode) and ``corpus.json`` (parameters, stats, labels, sources, hash).
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import soundfile as sf
import torch
from numpy.lib.format import open_memmap
from scipy.signal import resample_poly
from scipy.stats import rankdata
from tqdm import tqdm

from cak_dsp.atomic import write_text_atomic

AUDIO_SUFFIXES = {".wav", ".flac", ".aif", ".aiff", ".ogg", ".mp3"}
LABEL_MODES = ("random", "flatness", "onsets")
LABEL_SCALES = ("minmax", "rank")
PERCENTILES = (0.01, 99.99)
HIST_BINS = 1 << 18
SILENCE_DB = -60.0
CORPUS_JSON = "corpus.json"
MAGNITUDES = "magnitudes.npy"


class CorpusError(ValueError):
    """A corpus cannot be built or read; the message names the folder or file."""


@dataclass(frozen=True)
class Corpus:
    """A prepared corpus: normalized magnitudes (memory-mapped), labels and metadata."""

    path: Path
    magnitudes: np.ndarray
    labels: np.ndarray
    meta: dict[str, Any]


def stft_magnitude(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with a periodic Hann window, centred with zero padding (librosa's default), (bins, frames)."""
    x = torch.from_numpy(np.asarray(audio, dtype=np.float64))
    window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    return spec.abs().numpy()


def compress(magnitude: np.ndarray, alpha: float) -> np.ndarray:
    """``log1p(alpha * sqrt(m))``: the quantity whose corpus percentiles give ``global_low/high``."""
    return np.log1p(alpha * np.sqrt(magnitude))


def normalize(compressed: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    """``clip((l - low) / (high - low + 1e-8), 0, 1) ** gamma`` (the runtime's reference mode)."""
    return np.clip((compressed - low) / (high - low + 1e-8), 0.0, 1.0) ** gamma


def load_segment(path: Path, sample_rate: int, seconds: float, fade: float) -> np.ndarray:
    """Mono audio at ``sample_rate``: the centred ``seconds`` (zero-padded if shorter), with linear fades."""
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if audio.size == 0:
        raise ValueError("no samples")
    if not np.all(np.isfinite(audio)):
        raise ValueError("contains NaN or infinity")
    if sr != sample_rate:
        ratio = Fraction(sample_rate, sr).limit_denominator(1000)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    length = int(round(seconds * sample_rate))
    if audio.size >= length:
        start = (audio.size - length) // 2
        segment = audio[start : start + length].copy()
    else:
        segment = np.pad(audio, (0, length - audio.size))
    n_fade = min(int(round(fade * sample_rate)), length // 2)
    if n_fade > 0:
        ramp = np.linspace(0.0, 1.0, n_fade, dtype=np.float32)
        segment[:n_fade] *= ramp
        segment[-n_fade:] *= ramp[::-1]
    return segment


def _active_frames(magnitude: np.ndarray) -> np.ndarray:
    energy = (magnitude**2).sum(axis=0)
    if energy.max() <= 0:
        return np.zeros(energy.shape, dtype=bool)
    return energy > energy.max() * 10 ** (SILENCE_DB / 10)


def spectral_flatness(magnitude: np.ndarray) -> float:
    """Mean spectral flatness (geometric / arithmetic mean of power) over non-silent frames: 0 tonal .. 1 noisy."""
    active = _active_frames(magnitude)
    if not active.any():
        return 0.0
    power = magnitude[:, active] ** 2 + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)))


def onset_density(magnitude: np.ndarray, sample_rate: int, hop: int, alpha: float) -> float:
    """Onsets per second of non-silent audio: peaks of the half-wave rectified log-spectral flux."""
    active = _active_frames(magnitude)
    if active.sum() < 3:
        return 0.0
    flux = np.maximum(np.diff(compress(magnitude, alpha), axis=1), 0.0).sum(axis=0)
    threshold = np.median(flux) + 2.0 * np.median(np.abs(flux - np.median(flux))) + 1e-9
    peak = (flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] > threshold) & active[2:-1]
    return float(peak.sum() / (active.sum() * hop / sample_rate))


def scale_labels(values: np.ndarray, scale: str = "minmax") -> np.ndarray:
    """Descriptor values mapped to 0.1..1.0 (all 0.55 when they are all equal).

    ``minmax``: linearly, so a few outliers crowd the rest together. ``rank``: by rank (ties share their mean
    rank), evenly spread like the published random labels, so low -> high pairs keep ``c`` above the gate.
    """
    if scale not in LABEL_SCALES:
        raise CorpusError(f"unknown label scale {scale!r}; choose one of {', '.join(LABEL_SCALES)}")
    if scale == "rank":
        values = rankdata(values)
    span = values.max() - values.min()
    if span <= 0:
        return np.full(values.shape, 0.55)
    return 0.1 + 0.9 * (values - values.min()) / span


def find_audio(audio_dir: Path) -> list[Path]:
    """Audio files under ``audio_dir`` (recursive, sorted), by suffix."""
    if not audio_dir.is_dir():
        raise CorpusError(f"{audio_dir}: not a folder")
    return sorted(p for p in audio_dir.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def _percentiles(source: np.ndarray, top: float) -> tuple[float, float]:
    """Corpus percentiles of the compressed magnitudes via a fine histogram (bin width ~top/2**18)."""
    edges = np.linspace(0.0, top, HIST_BINS + 1)
    counts = np.zeros(HIST_BINS, dtype=np.int64)
    for item in source:
        counts += np.histogram(item, bins=edges)[0]
    cumulative = np.concatenate([[0], np.cumsum(counts)]) / counts.sum()
    return tuple(float(np.interp(q / 100.0, cumulative, edges)) for q in PERCENTILES)


def _sha256(path: Path, extra: bytes) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    digest.update(extra)
    return digest.hexdigest()


def prepare(
    audio_dir: str | Path,
    out_dir: str | Path,
    *,
    labels: str = "random",
    label_scale: str = "minmax",
    seed: int = 0,
    seconds: float = 15.0,
    fade: float = 2.0,
    sample_rate: int = 44100,
    n_fft: int = 2048,
    hop: int = 512,
    alpha: float = 10.0,
    gamma: float = 0.85,
    description: str = "",
    log: TextIO = sys.stderr,
    progress: bool = True,
) -> Corpus:
    """Build a corpus folder from every audio file under ``audio_dir``; unreadable files are reported and skipped."""
    if labels not in LABEL_MODES:
        raise CorpusError(f"unknown label mode {labels!r}; choose one of {', '.join(LABEL_MODES)}")
    if label_scale not in LABEL_SCALES:
        raise CorpusError(f"unknown label scale {label_scale!r}; choose one of {', '.join(LABEL_SCALES)}")
    audio_dir, out_dir = Path(audio_dir), Path(out_dir)
    files = find_audio(audio_dir)
    if not files:
        raise CorpusError(f"{audio_dir}: no audio files ({', '.join(sorted(AUDIO_SUFFIXES))})")
    out_dir.mkdir(parents=True, exist_ok=True)
    n_frames = 1 + int(round(seconds * sample_rate)) // hop
    store = open_memmap(out_dir / MAGNITUDES, mode="w+", dtype=np.float32, shape=(len(files), n_fft // 2 + 1, n_frames))
    kept: list[Path] = []
    descriptors: list[float] = []
    describe: Callable[[np.ndarray], float] = {
        "random": lambda m: 0.0,
        "flatness": spectral_flatness,
        "onsets": lambda m: onset_density(m, sample_rate, hop, alpha),
    }[labels]
    top = 0.0
    for path in tqdm(files, desc="reading audio", disable=not progress, file=log):
        try:
            magnitude = stft_magnitude(load_segment(path, sample_rate, seconds, fade), n_fft, hop)
        except Exception as exc:  # any unreadable file is reported and skipped, never fatal
            print(f"skipped {path}: {exc}".splitlines()[0], file=log)
            continue
        compressed = compress(magnitude, alpha).astype(np.float32)
        store[len(kept)] = compressed
        top = max(top, float(compressed.max()))
        descriptors.append(describe(magnitude))
        kept.append(path)
    if not kept:
        raise CorpusError(f"{audio_dir}: none of the {len(files)} audio files could be read")
    count = len(kept)
    low, high = _percentiles(store[:count], max(top, 1e-6))
    for i in range(count):
        store[i] = normalize(store[i], low, high, gamma)
    store.flush()
    del store
    if count < len(files):
        data = np.load(out_dir / MAGNITUDES, mmap_mode="r")[:count].copy()
        np.save(out_dir / MAGNITUDES, data)
    if labels == "random":
        values = np.random.default_rng(seed).uniform(0.1, 1.0, size=count)
        raw = None
    else:
        raw = np.array(descriptors)
        values = scale_labels(raw, label_scale)
    label_list = [float(v) for v in values]
    meta = {
        "format": "cak-corpus",
        "version": 1,
        "description": description or f"{count} segments from {audio_dir.name}",
        "source_dir": str(audio_dir),
        "sources": [str(p.relative_to(audio_dir)) for p in kept],
        "skipped": len(files) - count,
        "labels": label_list,
        "label_mode": labels,
        "label_raw": None if raw is None else [float(v) for v in raw],
        "label_scale": None if raw is None else label_scale,
        "seed": seed,
        "segment_seconds": seconds,
        "fade_seconds": fade,
        "stft": {"sample_rate": sample_rate, "n_fft": n_fft, "hop": hop, "window": "hann"},
        "normalization": {"alpha": alpha, "gamma": gamma, "global_low": low, "global_high": high,
                          "percentiles": list(PERCENTILES)},
        "shape": [count, n_fft // 2 + 1, n_frames],
    }
    meta["sha256"] = _sha256(out_dir / MAGNITUDES, json.dumps(label_list).encode())
    write_text_atomic(out_dir / CORPUS_JSON, json.dumps(meta, indent=2) + "\n")
    return load_corpus(out_dir)


def load_corpus(path: str | Path) -> Corpus:
    """Open a prepared corpus folder (magnitudes memory-mapped)."""
    path = Path(path)
    meta_path = path / CORPUS_JSON
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        magnitudes = np.load(path / MAGNITUDES, mmap_mode="r")
    except FileNotFoundError as exc:
        raise CorpusError(f"{path}: not a prepared corpus (missing {Path(exc.filename).name}; run 'cak train prepare')") from None
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path}: cannot read corpus: {exc}") from None
    labels = np.asarray(meta.get("labels", []), dtype=np.float32)
    if magnitudes.ndim != 3 or labels.shape != (magnitudes.shape[0],):
        raise CorpusError(f"{path}: {MAGNITUDES} shape {magnitudes.shape} does not match {labels.size} labels")
    return Corpus(path=path, magnitudes=magnitudes, labels=labels, meta=meta)
