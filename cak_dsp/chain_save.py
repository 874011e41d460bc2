"""Writing a chain back to a chain file, with every plugin's current state: ``cak chain save``.

::

    chain = load_chain("live.json")
    chain.stages[1].set_checked("top_left", 1)          # or MIDI moved it during cak live
    save_chain(chain, "tomorrow.json")                  # renders the same tomorrow

What is written, stage by stage (the chain file's own fields are kept where they still hold):

* a VST3/AU stage: ``path``, ``plugin_name``, ``layout``, the plugin's ``identifier`` and its
  whole ``state`` (base64 of ``raw_state``, read after the plugin has heard its last
  parameter change). ``parameters`` holds only what the state does not bring back: the state
  is restored into a fresh instance and each parameter compared (a DPF plugin's
  ``current_program`` is not in its state, for one); the others would only repeat the state.
* a pedalboard built-in: its type, file names, and every settable numeric parameter's current
  value (JSON keeps a float exactly, so the reloaded value is the same float).
* a CAK stage: its fields (preset, mode, level, soft_clip, geometry, and any others) with the
  current texture.
* every stage's ``name``.

Paths inside the new file's folder are written relative to it, others absolute. Saving a
chain reloads nothing; the reloaded chain renders bit-identically (tests/test_plugins.py).
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from .atomic import write_text_atomic
from .cak_stage import Cak
from .chain import Chain
from .chain_file import FORMAT, VERSION
from .controls import ControlError, parse_target, resolve
from .external import ExternalStage, load_plugin_file, same_plugin_id
from .plugin_probe import parameter_infos
from .plugin_stage import PluginStage


def chain_description(chain: Chain, base_dir: str | os.PathLike[str]) -> dict:
    """The chain file (as a dict) for ``chain`` written into folder ``base_dir``."""
    base_dir = Path(base_dir).resolve()
    old_base = Path(chain.base_dir or ".").resolve()
    stages = []
    for index, stage in enumerate(chain.stages):
        spec = dict(chain.specs[index]) if chain.specs is not None else {}
        if isinstance(stage, Cak):
            spec = _cak_spec(stage, spec, old_base, base_dir)
        elif isinstance(stage, ExternalStage):
            spec = _external_spec(stage, spec, base_dir)
        elif isinstance(stage, PluginStage) and not stage.external:
            spec = _builtin_spec(stage, spec, old_base, base_dir)
        else:
            raise ValueError(f"stage {index + 1} ({stage.name}) was not loaded from a file by path and cannot be "
                             "saved; load it with cak_dsp.ExternalStage(path)")
        if chain.names[index]:
            spec = {"type": spec.pop("type"), "name": chain.names[index], **spec}
        stages.append(spec)
    return {"format": FORMAT, "version": VERSION, "stages": stages}


def save_chain(chain: Chain, path: str | os.PathLike[str], force: bool = False) -> Path:
    """Write ``chain`` as a JSON chain file at ``path`` (atomically; ``force`` to overwrite)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise ValueError(f"{path}: cak chain save writes JSON; give the output a .json name")
    if path.exists() and not force:
        raise FileExistsError(f"{path}: already exists; pass --force to overwrite it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{path.parent}: output folder does not exist")
    write_text_atomic(path, json.dumps(chain_description(chain, path.parent), indent=2) + "\n")
    return path


def apply_setting(chain: Chain, text: str) -> None:
    """``TARGET=VALUE`` (``hp.cutoff_frequency_hz=200``, ``2.current_program=Custom``,
    ``3.bypass=true``): set one parameter, checked as a chain file's value would be."""
    target, sep, raw = text.partition("=")
    if not sep or not raw.strip():
        raise ControlError(f"--set {text!r}: expected TARGET=VALUE, e.g. hp.cutoff_frequency_hz=200")
    _, parameter = parse_target(target)
    value: object = raw.strip()
    if value in ("true", "false"):
        value = value == "true"
    else:
        try:
            value = float(value)
        except ValueError:
            pass  # a choice
    binding = resolve(chain, target, allow_choice=True)
    try:
        if isinstance(binding.stage, Cak):
            binding.stage.texture = value
        else:
            binding.stage.set_parameter(parameter, binding.info().check(value))
    except (TypeError, ValueError) as exc:
        raise ControlError(f"--set {text!r}: {binding.label}: {exc}") from None


def _place(path: Path, base_dir: Path) -> str:
    """``path`` relative to ``base_dir`` when it lies inside it, else absolute."""
    path = path.resolve()
    return path.relative_to(base_dir).as_posix() if path.is_relative_to(base_dir) else str(path)


def _rebased(value: str, old_base: Path, base_dir: Path) -> str:
    path = Path(value)
    return _place(path if path.is_absolute() else old_base / path, base_dir)


def _cak_spec(stage: Cak, spec: dict, old_base: Path, base_dir: Path) -> dict:
    spec = spec or {"type": "cak", "preset": stage.preset.name, "mode": stage.mode, "level": stage.level,
                    "soft_clip": stage.soft_clip, "geometry": stage.geometry}
    spec.pop("name", None)
    preset = spec.get("preset")
    if isinstance(preset, str) and preset.endswith(".json"):
        spec["preset"] = _rebased(preset, old_base, base_dir)
    spec["texture"] = stage.texture
    return spec


def _external_spec(stage: ExternalStage, spec: dict, base_dir: Path) -> dict:
    out = {"type": spec.get("type", "plugin"), "path": _place(stage.path, base_dir)}
    if stage.plugin_name:
        out["plugin_name"] = stage.plugin_name
    if stage.layout != "auto":
        out["layout"] = stage.layout
    out["identifier"] = same_plugin_id(stage.plugin.identifier)
    state = stage.state()
    out["state"] = base64.b64encode(state).decode("ascii")
    fresh = load_plugin_file(stage.path, stage.plugin_name)
    fresh.raw_state = state
    restored = parameter_infos(fresh)
    missing = {name: info.value for name, info in parameter_infos(stage.plugin).items()
               if restored[name].value != info.value}
    if missing:
        out["parameters"] = missing
    return out


def _builtin_spec(stage: PluginStage, spec: dict, old_base: Path, base_dir: Path) -> dict:
    out = {"type": type(stage.plugin).__name__}
    for key, value in spec.items():
        if key.endswith("filename") and isinstance(value, str):
            out[key] = _rebased(value, old_base, base_dir)
    for name, info in stage.parameters().items():
        out[name] = info.value
    return out
