"""``--geometry`` on the command line: preset show lists every geometry, render takes it."""
from __future__ import annotations

import numpy as np
import pytest

from cak_cli import main
from cak_dsp.geometry import GEOMETRIES, make_geometry
from cak_dsp.presets import resolve_preset


def test_preset_show_prints_latency_per_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preset", "show", "drums-causal", "-r", "44100", "-r", "48000"]) == 0
    out = capsys.readouterr().out
    preset = resolve_preset("drums-causal")
    for name in GEOMETRIES:
        for rate in (44100, 48000):
            latency = make_geometry(name, preset, rate).latency_samples
            assert any(line.split()[:4] == [name, str(rate), "Hz:", str(latency)] for line in out.splitlines())


def test_render_low_latency_is_identity_at_zero_texture(tmp_path) -> None:
    sf = pytest.importorskip("soundfile")
    audio = np.random.default_rng(0).uniform(-0.5, 0.5, (20000, 2)).astype(np.float32)
    sf.write(tmp_path / "in.wav", audio, 44100, subtype="FLOAT")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--preset", "drums",
                 "--texture", "0", "--geometry", "low-latency", "--quiet"]) == 0
    out, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 44100 and out.shape == audio.shape
    assert np.abs(out - audio).max() <= 1e-6

