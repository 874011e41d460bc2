"""Chain files: one JSON (or TOML) description that ``cak render`` and ``cak live`` both run.

::

    {
      "format": "cak-chain",
      "version": 1,
      "stages": [
        {"type": "HighpassFilter", "cutoff_frequency_hz": 80},
        {"type": "cak", "preset": "drums", "texture": 0.8, "level": "match"},
        {"type": "Compressor", "threshold_db": -18, "ratio": 3},
        {"type": "plugin", "path": "plugins/Shimmer.vst3", "parameters": {"mix": 0.3}}
      ]
    }

Any stage may have a ``name`` (``"name": "hp"``) for control targets (``hp.cutoff_frequency_hz``,
see :mod:`cak_dsp.controls`). A ``plugin`` stage may also carry ``state`` (base64, as
``cak chain save`` writes it, with the ``identifier`` of the plugin it came from) and a
``layout`` for a plugin of another width than the chain (see :mod:`cak_dsp.external`,
:mod:`cak_dsp.plugin_layout` and docs/plugins.md).

A stage's ``type`` is ``cak`` (``preset``: a shipped name or a JSON path; ``texture``: the
starting ``c``, which the knob then moves; ``mode``: ``gain`` or ``reference``; ``level``:
``match``, ``follow`` or ``off``; ``soft_clip``: true or false; ``geometry``: ``standard`` or
``low-latency``), ``plugin`` (a VST3 or Audio Unit
loaded with ``pedalboard.load_plugin``; ``path``, optional ``plugin_name`` for shells and
``parameters`` by the names the plugin reports), or the class name of any pedalboard
built-in with its parameters as fields. Relative paths are relative to the chain file.
The same description in TOML uses ``[[stages]]`` tables.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .chain import Chain
from .controls import check_stage_name
from .errors import first_line
from .geometry import GEOMETRIES
from .level import DEFAULT_LEVEL, LEVEL_MODES
from .normalization import DEFAULT_MODE, MODES
from .preset import PresetError
from .cak_stage import Cak

FORMAT = "cak-chain"
VERSION = 1


class ChainError(ValueError):
    """A chain file that cannot be used; the message names the file, the stage and the field."""


def load_chain(path: str | os.PathLike[str]) -> Chain:
    """Read a chain file (``.json`` or ``.toml``) and build its :class:`Chain`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChainError(f"{path}: cannot read chain file ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except (ValueError, ImportError) as exc:
        raise ChainError(f"{path}: not a valid {path.suffix.lstrip('.').upper() or 'JSON'} chain file "
                         f"({first_line(exc)})") from None
    except RecursionError:
        raise ChainError(f"{path}: not a chain file: nested too deeply") from None
    return chain_from_description(data, base_dir=path.parent, source=str(path))


def chain_from_description(data: dict, base_dir: str | os.PathLike[str] = ".", source: str = "chain") -> Chain:
    """Build a :class:`Chain` from a parsed description (see the module docstring)."""
    if not isinstance(data, dict):
        raise ChainError(f"{source}: expected an object with 'format', 'version' and 'stages'")
    if data.get("format") != FORMAT:
        raise ChainError(f"{source}: field 'format' must be '{FORMAT}', got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise ChainError(f"{source}: field 'version': this cak reads version {VERSION}, got {data.get('version')!r}")
    stages = data.get("stages")
    if not isinstance(stages, list) or not stages:
        raise ChainError(f"{source}: field 'stages' must be a non-empty list")
    base_dir = Path(base_dir)
    chain = Chain([_stage(spec, base_dir, f"{source}: stage {i + 1}") for i, spec in enumerate(stages)],
                  names=_stage_names(stages, source))
    chain.specs, chain.base_dir, chain.source = stages, base_dir, source  # for cak_dsp.chain_save and messages
    return chain


def _stage(spec: dict, base_dir: Path, where: str):
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ChainError(f"{where}: each stage needs a 'type' (cak, plugin, or a pedalboard class name)")
    fields = {k: v for k, v in spec.items() if k not in ("type", "name")}
    kind = spec["type"]
    if kind.lower() == "cak":
        return _cak_stage(fields, base_dir, where)
    if kind.lower() == "plugin":
        return _external_plugin(fields, base_dir, where)
    return _builtin_plugin(kind, fields, base_dir, where)


def _cak_stage(fields: dict, base_dir: Path, where: str) -> Cak:
    _check_fields(fields, {"preset", "texture", "mode", "level", "soft_clip", "geometry"}, where)
    preset = fields.get("preset", "drums")
    if not isinstance(preset, str):
        raise ChainError(f"{where}: field 'preset' must be a shipped preset name or a path, got {preset!r}")
    if preset.endswith(".json") and not Path(preset).is_absolute():
        preset = str(base_dir / preset)
    mode = fields.get("mode", DEFAULT_MODE)
    if mode not in MODES:
        raise ChainError(f"{where}: field 'mode' must be one of {', '.join(MODES)}, got {mode!r}")
    level = fields.get("level", DEFAULT_LEVEL)
    if level not in LEVEL_MODES:
        raise ChainError(f"{where}: field 'level' must be one of {', '.join(LEVEL_MODES)}, got {level!r}")
    soft_clip = fields.get("soft_clip", True)
    if not isinstance(soft_clip, bool):
        raise ChainError(f"{where}: field 'soft_clip' must be true or false, got {soft_clip!r}")
    geometry = fields.get("geometry", "standard")
    if geometry not in GEOMETRIES:
        raise ChainError(f"{where}: field 'geometry' must be one of {', '.join(GEOMETRIES)}, got {geometry!r}")
    texture = fields.get("texture", 0.8)
    if isinstance(texture, bool) or not isinstance(texture, (int, float)):
        raise ChainError(f"{where}: field 'texture' must be a number, got {texture!r}")
    try:
        return Cak(preset, texture=float(texture), mode=mode, level=level, soft_clip=soft_clip, geometry=geometry)
    except (PresetError, ValueError) as exc:
        raise ChainError(f"{where}: {exc}") from None


def _builtin_plugin(name: str, fields: dict, base_dir: Path, where: str):
    import pedalboard

    cls = getattr(pedalboard, name, None)
    if not (isinstance(cls, type) and issubclass(cls, pedalboard.Plugin)) or name in ("Plugin", "ExternalPlugin"):
        raise ChainError(f"{where}: unknown stage type {name!r}; use 'cak', 'plugin' or a pedalboard effect "
                         f"such as HighpassFilter, Compressor, Reverb, Delay, Gain, Limiter")
    fields = {k: str(base_dir / v) if k.endswith("filename") and isinstance(v, str) and not Path(v).is_absolute()
              else v for k, v in fields.items()}
    for key in fields:
        if key.startswith("_") or not isinstance(getattr(cls, key, None), property) and not key.endswith("filename"):
            raise ChainError(f"{where}: {name} has no parameter {key!r}; it has: {', '.join(_parameters(cls))}")
    try:
        plugin = cls(**{k: v for k, v in fields.items() if k.endswith("filename")})
    except TypeError:
        raise ChainError(f"{where}: {name} needs other arguments than a chain file gives "
                         f"(parameters: {', '.join(_parameters(cls))})") from None
    except (RuntimeError, ValueError, OSError) as exc:
        raise ChainError(f"{where}: {name}: {first_line(exc)}") from None
    for key, value in fields.items():
        if key.endswith("filename"):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ChainError(f"{where}: {name} parameter {key!r} must be a finite number, got {value!r}")
        try:
            setattr(plugin, key, value)
        except (TypeError, OverflowError):
            raise ChainError(f"{where}: {name} parameter {key!r} cannot be {_shown(value)} "
                             "(expected a number)") from None
        except ValueError as exc:
            raise ChainError(f"{where}: {name} parameter {key!r} cannot be {_shown(value)} "
                             f"({first_line(exc)})") from None
    return plugin


def _external_plugin(fields: dict, base_dir: Path, where: str):
    from .external import stage_from_fields

    try:
        return stage_from_fields(fields, base_dir)
    except ValueError as exc:
        raise ChainError(f"{where}: {exc}") from None


def _stage_names(stages: list, source: str) -> list[str | None]:
    """Each stage's optional ``name`` (a control target may name it: ``hp.cutoff_frequency_hz``)."""
    names: list[str | None] = []
    for i, spec in enumerate(stages):
        name = spec.get("name") if isinstance(spec, dict) else None
        if name is not None:
            try:
                check_stage_name(name)
            except ValueError as exc:
                raise ChainError(f"{source}: stage {i + 1}: field 'name': {exc}") from None
            if name in names:
                raise ChainError(f"{source}: stage {i + 1}: field 'name': stage {names.index(name) + 1} is "
                                 f"already called {name!r}")
        names.append(name)
    return names


def _check_fields(fields: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ChainError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}")


def _shown(value: object, limit: int = 40) -> str:
    """``repr(value)``, shortened for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def _parameters(cls: type) -> list[str]:
    return sorted(k for k in dir(cls) if not k.startswith("_") and isinstance(getattr(cls, k), property)
                  and k not in ("is_effect", "is_instrument"))
