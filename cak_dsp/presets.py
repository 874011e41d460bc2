"""Finding presets: a path to a JSON file, or the name of a preset shipped with cak.

The shipped presets live in the repository's top-level ``presets/`` folder. An installed cak
(wheel or ``pip install .``) carries them as package data of the import package ``cak_presets``
(``package-dir`` maps it to ``presets/``), read with :func:`importlib.resources.files`; the name is
cak's own, so a user's ``presets.py`` or ``presets/`` folder cannot shadow it. Run from a source
checkout (``PYTHONPATH``, editable install), the checkout's ``presets/`` beside ``cak_dsp`` wins,
so a worktree reads its own presets.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path

from .preset import Preset, PresetError, load_preset

PACKAGE = "cak_presets"
DEFAULT_PRESET = "drums"


def _shipped_dir() -> Path:
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "presets" / "__init__.py").is_file():
        return checkout / "presets"
    try:
        # An installed wheel is unpacked on disk, so this is a real folder.
        return Path(str(importlib.resources.files(PACKAGE)))
    except ModuleNotFoundError:
        return checkout / "presets"


SHIPPED_DIR = _shipped_dir()


def shipped_presets() -> list[str]:
    """Names of the presets shipped with cak (file stems of ``presets/*.json``)."""
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
