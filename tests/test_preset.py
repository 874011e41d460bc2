"""Preset format v1: round trip, and one clear line for every kind of bad file."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cak_dsp import Preset, PresetError, load_preset


def _write(tmp_path: Path, data: object, name: str = "p.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_round_trip_keeps_every_field(synthetic_preset: Preset, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    synthetic_preset.save(path)
    loaded = load_preset(path)
    assert np.array_equal(loaded.weight, synthetic_preset.weight)
    assert loaded.to_dict() == synthetic_preset.to_dict()
    assert list(tmp_path.iterdir()) == [path]


def test_weight_layout_is_frequency_rows_time_columns(synthetic_preset: Preset) -> None:
    data = synthetic_preset.to_dict()
    data["kernel"]["weight"] = [[1, 2, 0], [3, 4, 0], [5, 6, 0]]
    causal = Preset.from_dict(data)
    assert causal.is_causal and causal.weight[2, 0] == 5
    assert not synthetic_preset.is_causal


def _bad(base: dict, path: tuple[str, ...], value: object) -> dict:
    data = json.loads(json.dumps(base))
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(("path", "value", "field"), [
    (("kernel", "bias"), KeyError, "kernel.bias"),
    (("normalization",), KeyError, "normalization"),
    (("kernel", "weight"), [[1, 2, 3], [4, 5, 6]], "kernel.weight"),
    (("kernel", "weight"), [[1, 2], [3, 4], [5, 6]], "kernel.weight"),
    (("kernel", "weight"), [[1, 2, 3], [4, "x", 6], [7, 8, 9]], "kernel.weight"),
    (("version",), 2, "version"),
    (("format",), "something-else", "format"),
    (("kernel", "temperature"), 0, "kernel.temperature"),
    (("normalization", "global_high"), -1.0, "normalization.global_high"),
    (("stft", "n_fft"), 2047, "stft.n_fft"),
    (("stft", "window"), "kaiser", "stft.window"),
    (("provenance", "method"), "", "provenance.method"),
])
def test_bad_field_names_file_and_field(synthetic_preset: Preset, tmp_path: Path, path, value, field) -> None:
    file = _write(tmp_path, _bad(synthetic_preset.to_dict(), path, value))
    with pytest.raises(PresetError) as err:
        load_preset(file)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{file}: field '{field}'")


def test_nan_weight_is_refused(synthetic_preset: Preset, tmp_path: Path) -> None:
    text = json.dumps(synthetic_preset.to_dict()).replace(
        json.dumps(synthetic_preset.to_dict()["kernel"]["weight"][1][1]), "NaN", 1)
    file = _write(tmp_path, text)
    with pytest.raises(PresetError, match=r"field 'kernel.weight': contains NaN"):
        load_preset(file)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PresetError, match="no such preset file"):
        load_preset(tmp_path / "missing.json")
    with pytest.raises(PresetError, match=r"not valid JSON \(line 1"):
        load_preset(_write(tmp_path, "{nope"))


def test_gate_and_gain(synthetic_preset: Preset) -> None:
    assert synthetic_preset.gain(0.0) == 0.0
    assert synthetic_preset.gate(synthetic_preset.threshold) == pytest.approx(0.5)
    expected = 1.0 * synthetic_preset.scale / (1 + math.exp(-(1.0 - 0.3) * 20.0))
    assert synthetic_preset.gain(1.0) == pytest.approx(expected)
