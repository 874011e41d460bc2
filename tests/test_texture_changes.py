"""Moving the texture knob never clicks: every jump is crossfaded by the overlapping frames."""
from __future__ import annotations

import numpy as np

from cak_dsp import CakEngine, Preset

RATE = 44100


def _curvature(x: np.ndarray) -> float:
    """Largest second difference: a click (a step or kink in the waveform) makes it jump."""
    return float(np.abs(np.diff(x, 2)).max())


def test_texture_jumps_are_click_free(published_preset: Preset) -> None:
    t = np.arange(2 * RATE) / RATE
    # below the published spectral ceiling (about -22 dBFS for a sine), where the kernel acts
    chord = (0.05 * np.sin(2 * np.pi * 440 * t) + 0.03 * np.sin(2 * np.pi * 660 * t + 1.0)).astype(np.float32)[None]
    outputs = {}
    for name, schedule in {"low": lambda i: 0.0, "high": lambda i: 1.5,
                           "jumps": lambda i: 1.5 if (i // 5512) % 2 else 0.0}.items():
        engine = CakEngine(published_preset)
        engine.prepare(RATE, 64, 1)
        out = []
        for start in range(0, chord.shape[1], 64):
            engine.texture = schedule(start)
            out.append(engine.process(chord[:, start:start + 64]).copy())
        outputs[name] = np.concatenate(out, axis=1)[0, engine.latency_samples + 4096:]
    assert np.abs(outputs["high"] - outputs["low"]).max() > 0.005
    steady = max(_curvature(outputs["low"]), _curvature(outputs["high"]))
    assert _curvature(outputs["jumps"]) <= 1.25 * steady
