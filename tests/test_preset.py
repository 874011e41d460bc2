"""Preset format v1: round trip, and one clear line for every kind of bad file."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from cak_dsp import Preset, PresetError, load_preset
from cak_dsp.presets import SHIPPED_DIR, resolve_preset, shipped_presets


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
    (("stft", "n_fft"), 3072, "stft.n_fft"),
    (("stft", "n_fft"), 2 ** 30, "stft.n_fft"),
    (("stft", "hop"), 64, "stft.hop"),
    (("stft", "sample_rate"), 0, "stft.sample_rate"),
    (("normalization", "alpha"), 1e300, "normalization.alpha"),
    (("normalization", "gamma"), 100.0, "normalization.gamma"),
    (("normalization", "global_high"), 1e-9, "normalization.global_high"),
    (("kernel", "weight"), [[1e6, 0, 0], [0, 0, 0], [0, 0, 0]], "kernel.weight"),
    (("kernel", "scale"), 10 ** 400, "kernel.scale"),
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


@pytest.mark.parametrize(("change", "field"), [
    ({"alpha": float("nan")}, "normalization.alpha"),
    ({"gamma": np.float32(100.0)}, "normalization.gamma"),
    ({"scale": float("inf")}, "kernel.scale"),
    ({"n_fft": 2000}, "stft.n_fft"),
    ({"sample_rate": 1000}, "stft.sample_rate"),
    ({"weight": np.full((3, 3), np.nan)}, "kernel.weight"),
    ({"weight": np.zeros((2, 3))}, "kernel.weight"),
    ({"weight": 0.5}, "kernel.weight"),
    ({"global_high": 0.0}, "normalization.global_high"),
])
def test_a_preset_built_in_python_meets_the_file_rules(synthetic_preset: Preset, change: dict, field: str) -> None:
    with pytest.raises(PresetError) as err:
        Preset(**{**synthetic_preset.__dict__, **change})
    assert str(err.value).startswith(f"Preset(...): field '{field}'")
    assert "\n" not in str(err.value)


def test_numpy_numbers_make_a_valid_preset(synthetic_preset: Preset) -> None:
    built = Preset(**{**synthetic_preset.__dict__, "bias": np.float32(-0.05), "n_fft": np.int64(2048)})
    assert built.bias == np.float32(-0.05) and built.n_fft == 2048


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


REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


@pytest.mark.parametrize("name", shipped_presets())
def test_shipped_presets_load_by_name(name: str) -> None:
    preset = resolve_preset(name)
    assert preset.name == name
    assert preset.description and preset.provenance["method"]


def test_published_preset_names_its_source_and_licence() -> None:
    preset = resolve_preset("published")
    prov = preset.provenance
    assert prov["checkpoint"] == "final_wgan_grain.pt" and len(prov["checkpoint_sha256"]) == 64
    assert "Gloame AI" in prov["source_project"] and prov["license"] == "MIT"
    licence = SHIPPED_DIR / prov["license_file"]
    assert "MIT License" in licence.read_text() and "Austin Rockman and Roopam Garg" in licence.read_text()
    assert prov["license_file"] in (SHIPPED_DIR / "README.md").read_text()


def test_published_preset_equals_a_fresh_import_of_the_checkpoint() -> None:
    """The one test that needs ../shared/reference: the shipped numbers are the checkpoint's, exactly."""
    ckpt, stats = REFERENCE_DIR / "final_wgan_grain.pt", REFERENCE_DIR / "global_normalization_stats.json"
    if not ckpt.exists():
        pytest.skip(f"published checkpoint not found in {REFERENCE_DIR} (the shipped preset is tested without it)")
    pytest.importorskip("torch", reason="importing the checkpoint needs torch (pip install 'cak[train]')")
    from cak_train.import_checkpoint import import_checkpoint

    shipped = resolve_preset("published")
    imported = import_checkpoint(ckpt, stats, name="published").to_dict()
    assert shipped.provenance["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert shipped.provenance["stats_sha256"] == hashlib.sha256(stats.read_bytes()).hexdigest()
    ours = shipped.to_dict()
    for part in ("kernel", "normalization", "stft"):
        assert ours[part] == imported[part], part
    assert ours["provenance"]["final_history"] == imported["provenance"]["final_history"]
