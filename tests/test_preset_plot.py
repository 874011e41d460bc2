"""`cak preset plot`: the per-band change it draws is real, and the PNG is written."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cak_dsp import Preset
from cak_cli import main
from cak_dsp.demo import DEMO_RATE, demo_clip
from cak_dsp.preset_plot import band_change_db


def test_band_change_is_zero_at_identity_and_not_above_threshold(synthetic_preset: Preset) -> None:
    clip = demo_clip(2.0)[0]
    centres, none = band_change_db(synthetic_preset, clip, DEMO_RATE, 0.0)
    assert centres[0] == pytest.approx(62.5 * 2 ** (1 / 6)) and centres[-1] < DEMO_RATE / 2
    assert np.abs(none).max() < 1e-6
    _, some = band_change_db(synthetic_preset, clip, DEMO_RATE, 1.0)
    assert np.abs(some).max() > 0.5


def test_plot_command_writes_png_and_refuses_overwrite(synthetic_preset: Preset, tmp_path: Path) -> None:
    preset_file = tmp_path / "s.json"
    synthetic_preset.save(preset_file)
    out = tmp_path / "kernel.png"
    assert main(["preset", "plot", str(preset_file), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["preset", "plot", str(preset_file), "-o", str(out)]) == 2
