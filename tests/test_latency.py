"""The reported latency is the measured one, for every block size."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import CakEngine, Preset, standard_geometry

RATE = 44100


def _through(engine: CakEngine, audio: np.ndarray, block: int) -> np.ndarray:
    out = np.zeros_like(audio)
    for start in range(0, audio.shape[1], block):
        out[:, start:start + block] = engine.process(audio[:, start:start + block])
    return out


@pytest.mark.parametrize("block", [1, 64, 256, 512, 1000, 4096])
def test_impulse_and_click_train_arrive_exactly_latency_later(preset: Preset, block: int) -> None:
    engine = CakEngine(preset)
    engine.prepare(RATE, block, 1)
    engine.texture = 0.0
    n_fft, hop = 2048, 512
    lead = 1
    expected = n_fft - 1 - lead + (0 if preset.is_causal else 1) * hop
    assert engine.latency_samples == expected == 2558
    clicks = [777, 5000, 5001, 9999, 20000]
    audio = np.zeros((1, 30000), np.float32)
    audio[0, clicks] = [1.0, -0.5, 0.25, 1.0, -1.0]
    out = _through(engine, audio, block)
    found = np.flatnonzero(np.abs(out[0]) > 1e-3)
    assert list(found) == [c + expected for c in clicks]
    assert np.abs(out[0, expected:] - audio[0, :-expected]).max() < 1e-6


@pytest.mark.parametrize("rate", [48000, 88200, 96000])
def test_latency_at_other_rates_matches_formula_and_measurement(synthetic_preset: Preset, rate: int) -> None:
    geo = standard_geometry(synthetic_preset, rate)
    assert geo.latency_samples == geo.n_fft - 2 + geo.hop
    engine = CakEngine(synthetic_preset)
    engine.prepare(rate, 300, 1)
    audio = np.zeros((1, 3 * geo.n_fft), np.float32)
    audio[0, 100] = 1.0
    out = _through(engine, audio, 300)
    assert int(np.argmax(np.abs(out[0]))) == 100 + engine.latency_samples


def test_causal_preset_is_one_hop_earlier(synthetic_preset: Preset) -> None:
    data = synthetic_preset.to_dict()
    for row in data["kernel"]["weight"]:
        row[2] = 0.0
    causal = type(synthetic_preset).from_dict(data)
    engine = CakEngine(causal)
    engine.prepare(RATE, 64, 1)
    assert engine.latency_samples == 2558 - 512
    audio = np.zeros((1, 8192), np.float32)
    audio[0, 1234] = 1.0
    out = _through(engine, audio, 64)
    assert int(np.argmax(np.abs(out[0]))) == 1234 + 2046
