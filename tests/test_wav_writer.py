"""The WAV writer: every reader gets back the samples (within half a step), in a canonical header."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pedalboard.io import AudioFile

from cak_dsp.wav_writer import WavWriter, fits


@pytest.mark.parametrize("bits, subtype", [(16, "PCM_16"), (24, "PCM_24"), (32, "FLOAT")])
@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_samples_read_back_within_half_a_step(tmp_path: Path, channels: int, bits: int, subtype: str) -> None:
    rng = np.random.default_rng(channels * bits)
    audio = np.clip(0.4 * rng.standard_normal((channels, 20001)), -1.0, 1.0).astype(np.float32)
    audio[0, :3] = [1.0, -1.0, 0.0]
    path = tmp_path / "out.wav"
    with WavWriter(path, 48000, channels, bits) as sink:
        for at in range(0, audio.shape[1], 4096):  # blocks, the last one odd in length
            sink.write(audio[:, at:at + 4096])
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (48000, channels, 20001, subtype)
    assert info.format == ("WAV" if channels <= 2 and bits != 24 else "WAVEX")
    step = 2.0 ** (1 - bits) if bits < 32 else 0.0
    decoded = sf.read(str(path), dtype="float64", always_2d=True)[0].T  # libsndfile: code / 2**(bits - 1)
    error = np.abs(decoded - audio)
    top = audio == 1.0  # one step above the largest code
    assert error[~top].max() <= step / 2 and error[top].max() <= step
    assert abs((decoded - audio).mean()) <= step / 20  # rounded to nearest: no offset of half a step
    assert np.abs(_pedalboard(path) - audio).max() <= 2 * step  # JUCE reads positive codes / (2**(bits - 1) - 1)
    size = path.stat().st_size
    assert size % 2 == 0 and struct.unpack("<I", path.read_bytes()[4:8])[0] == size - 8


def test_non_finite_samples_are_written_as_silence_and_loud_ones_clip(tmp_path: Path) -> None:
    block = np.array([[np.nan, np.inf, -np.inf, 3.0, -3.0, 0.25]], np.float32)
    for bits in (16, 24, 32):
        path = tmp_path / f"{bits}.wav"
        with WavWriter(path, 44100, 1, bits) as sink:
            sink.write(block)
        decoded = sf.read(str(path), dtype="float64")[0]
        loud = [3.0, -3.0] if bits == 32 else [1.0 - 2.0 ** (1 - bits), -1.0]
        assert decoded.tolist() == [0.0, 0.0, 0.0, *loud, 0.25]


def test_bad_shapes_and_depths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="bit depth must be one of 16, 24, 32, got 8"):
        WavWriter(tmp_path / "a.wav", 44100, 2, 8)
    with WavWriter(tmp_path / "b.wav", 44100, 2, 24) as sink, \
            pytest.raises(ValueError, match=r"blocks must be shaped \(2, n\), got \(1, 10\)"):
        sink.write(np.zeros((1, 10), np.float32))


def test_fits_says_where_riff_sizes_end() -> None:
    frames = (1 << 32) // 8  # stereo float: 8 bytes a frame
    assert fits(frames - 1000, 2, 32) and not fits(frames, 2, 32)


def _pedalboard(path: Path) -> np.ndarray:
    with AudioFile(str(path)) as source:
        return source.read(source.frames).astype(np.float64)
