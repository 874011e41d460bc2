"""Finding presets: a path to a JSON file, or the name of a preset shipped in ``presets/``."""
from __future__ import annotations

from pathlib import Path

from .preset import Preset, PresetError, load_preset

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "drums"


def shipped_presets() -> list[str]:
    """Names of the presets shipped with cak (file stems in ``presets/``)."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.json"))


def resolve_preset(name_or_path: str | None) -> Preset:
    """Load a preset by path, or by shipped name (``drums`` -> ``presets/drums.json``)."""
    name_or_path = name_or_path or DEFAULT_PRESET
    path = Path(name_or_path)
    if path.suffix == ".json" or path.exists():
        return load_preset(path)
    shipped = SHIPPED_DIR / f"{name_or_path}.json"
    if shipped.exists():
        return load_preset(shipped)
    names = ", ".join(shipped_presets()) or "none found"
    raise PresetError(f"{name_or_path}: no such preset file or shipped preset (shipped: {names})")
