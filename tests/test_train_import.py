"""Importing the published checkpoint layout as a preset."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cak_dsp.preset import PresetError, load_preset  # noqa: E402
from cak_train.import_checkpoint import import_checkpoint  # noqa: E402

pytestmark = pytest.mark.train

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"
CKPT = REFERENCE_DIR / "final_wgan_grain.pt"
STATS = REFERENCE_DIR / "global_normalization_stats.json"
needs_reference = pytest.mark.skipif(not CKPT.exists(), reason=f"published checkpoint not found in {REFERENCE_DIR}")


@needs_reference
def test_import_published_checkpoint(tmp_path: Path) -> None:
    preset = import_checkpoint(CKPT, STATS, name="grain")
    state = torch.load(CKPT, map_location="cpu", weights_only=False)["generator"]
    stats = json.loads(STATS.read_text())
    assert np.array_equal(preset.weight, state["cak.detector.conv.weight"][0, 0].double().numpy())
    assert preset.bias == float(state["cak.detector.conv.bias"])
    assert preset.scale == float(state["cak.scale"]) and preset.threshold == float(state["cak.threshold"])
    assert preset.temperature == 20.0 and preset.name == "grain"
    assert (preset.global_low, preset.global_high) == (stats["global_low"], stats["global_high"])
    preset.save(tmp_path / "grain.json")
    assert np.array_equal(load_preset(tmp_path / "grain.json").weight, preset.weight)


def test_missing_key_is_named(tmp_path: Path) -> None:
    ckpt = tmp_path / "partial.pt"
    torch.save({"generator": {"cak.scale": torch.ones(1)}}, ckpt)
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"alpha": 10.0, "global_low": 0.0, "global_high": 4.0, "gamma": 0.85}))
    with pytest.raises(PresetError, match=r"partial\.pt: missing key 'generator\.cak\.detector\.conv\.weight'"):
        import_checkpoint(ckpt, stats)
    torch.save({"critic": {}}, ckpt)
    with pytest.raises(PresetError, match="missing key 'generator'"):
        import_checkpoint(ckpt, stats)


@needs_reference
def test_missing_stats_key_and_files_are_named(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"alpha": 10.0, "global_low": 0.0, "gamma": 0.85}))
    with pytest.raises(PresetError, match=r"stats\.json: missing key 'global_high'"):
        import_checkpoint(CKPT, stats)
    with pytest.raises(PresetError, match="no such checkpoint"):
        import_checkpoint(tmp_path / "nope.pt", STATS)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(PresetError, match=r"junk\.pt: not a readable PyTorch checkpoint"):
        import_checkpoint(tmp_path / "junk.pt", STATS)
