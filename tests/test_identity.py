"""At c = 0 the default mode is the identity (delayed), for noise, 0 dBFS sines and real drums, in every level mode."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import CakEngine, Preset, render
from cak_dsp.level import LEVEL_MODES

RATE = 44100


def _sines() -> np.ndarray:
    t = np.arange(RATE) / RATE
    return np.stack([np.sin(2 * np.pi * f * t) for f in (50.0, 997.0, 15000.0)]).astype(np.float32)


def _noise() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1.0, 1.0, (2, RATE)).astype(np.float32)


@pytest.mark.parametrize("level", LEVEL_MODES)
@pytest.mark.parametrize("signal", ["noise", "sines", "drums"])
def test_identity_at_zero_texture(preset: Preset, signal: str, level: str, request: pytest.FixtureRequest) -> None:
    audio = request.getfixturevalue("drums")[None, :] if signal == "drums" else {"noise": _noise, "sines": _sines}[signal]()
    wet = render(audio, RATE, preset, 0.0, level=level)
    assert np.abs(wet - audio).max() <= 1e-6
    engine = CakEngine(preset)
    engine.prepare(RATE, 512, audio.shape[0])
    out = np.concatenate([engine.process(audio[:, i:i + 512]).copy() for i in range(0, audio.shape[1], 512)], axis=1)
    d = engine.latency_samples
    assert np.abs(out[:, d:] - audio[:, :-d]).max() <= 1e-6


def test_effect_is_audible_above_threshold(published_preset: Preset, drums: np.ndarray) -> None:
    wet = render(drums, RATE, published_preset, 1.0)
    change = np.sqrt(np.mean((wet - drums) ** 2) / np.mean(drums ** 2))
    assert change > 0.05


def test_reference_mode_clips_loud_bins_gain_mode_keeps_them(published_preset: Preset) -> None:
    sine = _sines()[1:2]
    reference = render(sine, RATE, published_preset, 0.0, mode="reference", level="off", soft_clip=False)
    gain = render(sine, RATE, published_preset, 0.0)
    assert np.abs(gain - sine).max() <= 1e-6
    assert np.abs(reference).max() < 10 ** (-4 / 20)


@pytest.mark.parametrize("length", [0, 1, 511, 1024, 2049])
def test_short_signals_keep_length_and_identity(synthetic_preset: Preset, length: int) -> None:
    audio = np.random.default_rng(length).uniform(-1, 1, (2, length)).astype(np.float32)
    dry = render(audio, RATE, synthetic_preset, 0.0)
    assert dry.shape == audio.shape and (length == 0 or np.abs(dry - audio).max() <= 1e-6)
    wet = render(audio, RATE, synthetic_preset, 1.7, mode="reference", level="off", soft_clip=False)
    assert wet.shape == audio.shape and np.all(np.isfinite(wet))
