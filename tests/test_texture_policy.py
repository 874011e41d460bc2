"""One texture policy (cak_dsp.texture): the API, the command line and files refuse a texture
outside 0..2 (NaN and infinities included) with one line naming the value and the range; live
controls clamp and never raise."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cak_cli import main
from cak_dsp import Cak, CakEngine, Preset, render
from cak_dsp.automation import AutomationError, load_automation
from cak_dsp.texture import TEXTURE_RANGE, check_texture, check_texture_curve, clamp_texture

BAD = [-0.1, 2.5, math.nan, math.inf, -math.inf]


@pytest.mark.parametrize("value", BAD)
def test_check_refuses_in_one_line_naming_value_and_range(value: float) -> None:
    with pytest.raises(ValueError) as caught:
        check_texture(value, where="knob.csv: line 3")
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"knob.csv: line 3: texture must be between 0.0 and 2.0, got {value}"


def test_check_passes_the_range_and_refuses_what_is_not_a_number() -> None:
    lo, hi = TEXTURE_RANGE
    assert (check_texture(lo), check_texture(hi), check_texture(np.float32(0.5))) == (0.0, 2.0, 0.5)
    with pytest.raises(ValueError, match=r"texture must be between 0.0 and 2.0, got 'loud'"):
        check_texture("loud")
    with pytest.raises(ValueError, match=r"texture curve: .*got nan at sample 2"):
        check_texture_curve(np.array([0.0, 1.0, np.nan, 3.0]), "texture curve")


@pytest.mark.parametrize(("value", "clamped"), [(-1.0, 0.0), (0.7, 0.7), (5.0, 2.0), (math.inf, 2.0),
                                                (-math.inf, 0.0), (math.nan, 0.0)])
def test_live_controls_clamp(value: float, clamped: float) -> None:
    assert clamp_texture(value) == clamped


@pytest.mark.parametrize("value", [2.5, math.nan])
def test_every_api_entry_refuses(synthetic_preset: Preset, value: float) -> None:
    from cak_realtime.programs import ProgramBank
    from cak_realtime.stream import LiveConfig, LiveHost

    audio = np.zeros((1, 4096), np.float32)
    entries = {
        "engine": lambda: setattr(CakEngine(synthetic_preset), "texture", value),
        "stage": lambda: Cak(synthetic_preset, texture=value),
        "render constant": lambda: render(audio, 44100, synthetic_preset, value),
        "render curve": lambda: render(audio, 44100, synthetic_preset, np.full(4096, value)),
        "program bank": lambda: setattr(ProgramBank([synthetic_preset]), "texture", value),
        "live config": lambda: LiveHost(LiveConfig(preset=synthetic_preset, texture=value)),
    }
    for name, entry in entries.items():
        with pytest.raises(ValueError, match=r"texture must be between 0.0 and 2.0, got") as caught:
            entry()
        assert "\n" not in str(caught.value), name


def test_files_and_the_command_line_refuse(tmp_path: Path, capsys) -> None:
    envelope = tmp_path / "knob.csv"
    envelope.write_text("0,0.5\n1,nan\n")
    with pytest.raises(AutomationError, match=r"knob.csv: line 2: texture must be between 0.0 and 2.0, got nan"):
        load_automation(envelope)
    with pytest.raises(SystemExit):
        main(["demo", "--texture", "inf"])
    assert "texture must be between 0.0 and 2.0, got inf" in capsys.readouterr().err
