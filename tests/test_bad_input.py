"""Garbage in never becomes NaN or Inf out, and never poisons the engine."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import SAMPLE_LIMIT, CakEngine, Preset, render

RATE = 44100


def _cases() -> dict[str, np.ndarray]:
    n = RATE
    t = np.arange(n) / RATE
    tiny = np.full(n, 1e-40, np.float32)
    tiny[::2] = -1e-42
    return {
        "nan": np.full(n, np.nan),
        "inf": np.where(np.arange(n) % 3 == 0, np.inf, -np.inf),
        "denormals": tiny,
        "dc": np.full(n, 0.9),
        "silence": np.zeros(n),
        "square": np.sign(np.sin(2 * np.pi * 110 * t)) + (t < 0),
        "huge": np.full(n, 3e38),
    }


@pytest.mark.parametrize("case", list(_cases()))
@pytest.mark.parametrize("mode", ["gain", "reference"])
def test_output_is_finite(preset: Preset, case: str, mode: str) -> None:
    audio = _cases()[case].astype(np.float32)[None, :]
    for c in (0.0, 1.0, 2.0):
        out = render(audio, RATE, preset, c, mode)
        assert np.all(np.isfinite(out)) and np.abs(out).max() <= SAMPLE_LIMIT


def test_silence_stays_silent(preset: Preset) -> None:
    out = render(np.zeros((1, RATE), np.float32), RATE, preset, 1.5)
    assert np.abs(out).max() < 1e-6


def test_nan_burst_recovers_within_one_window(preset: Preset) -> None:
    """A NaN/Inf burst acts exactly like silence, and leaves no trace once it has left the
    kernel's receptive field: one analysis window plus the one-hop reach of the time taps."""
    rng = np.random.default_rng(0)
    clean = (0.3 * rng.standard_normal((1, 3 * RATE))).astype(np.float32)
    dirty = clean.copy()
    burst = slice(RATE, RATE + 300)
    dirty[0, burst] = np.nan
    dirty[0, RATE + 100] = np.inf
    muted = clean.copy()
    muted[0, burst] = 0.0
    outs = []
    for audio in (dirty, muted):
        engine = CakEngine(preset)
        engine.prepare(RATE, 512, 1)
        engine.texture = 1.0
        outs.append(np.concatenate([engine.process(audio[:, i:i + 512]).copy()
                                    for i in range(0, audio.shape[1], 512)], axis=1))
    assert np.all(np.isfinite(outs[0]))
    assert np.array_equal(outs[0], outs[1])
    recovered = burst.stop + engine.latency_samples + 2048 + 512
    fresh = CakEngine(preset)
    fresh.prepare(RATE, 512, 1)
    fresh.texture = 1.0
    reference = np.concatenate([fresh.process(clean[:, i:i + 512]).copy()
                                for i in range(0, clean.shape[1], 512)], axis=1)
    assert np.abs(outs[0][:, recovered:] - reference[:, recovered:]).max() <= 1e-6
