"""MIDI mapping files: which controllers and notes drive which targets, and which program
numbers select which presets.

The format (``controls``, ``programs``, ``program_channel``; each control's ``target``, ``cc`` or
``note``, ``channel``, ``range``, ``curve``, ``14bit``, ``smoothing_ms``) is documented once, in
docs/live.md ("The mapping file"). :func:`load_midi_map` reads and validates a file;
every error is one line naming the file, the field and the value.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from cak_dsp.atomic import write_text_atomic
from cak_dsp.controls import is_parameter_target

from .midi import CURVE_RANGE, RANGE_LIMITS, TARGETS, CCMapping

MAX_SMOOTHING_MS = 10000.0

CONTROL_FIELDS = {"target", "cc", "note", "channel", "range", "curve", "14bit", "smoothing_ms"}


class MidiMapError(ValueError):
    """A mapping file that cannot be used; the message names the file, the field and the value."""


@dataclass
class MidiMap:
    controls: list[CCMapping] = field(default_factory=list)
    programs: dict[int, str] = field(default_factory=dict)
    program_channel: int | None = None


def load_midi_map(path: str | os.PathLike[str]) -> MidiMap:
    """Read and validate a mapping file (format: docs/live.md, "The mapping file")."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MidiMapError(f"{path}: cannot read MIDI mapping file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise MidiMapError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise MidiMapError(f"{path}: nested too deeply to be a MIDI mapping file") from None
    if not isinstance(data, dict):
        raise MidiMapError(f"{path}: expected an object with 'controls', 'programs' and 'program_channel'")
    unknown = sorted(set(data) - {"controls", "programs", "program_channel"})
    if unknown:
        raise MidiMapError(f"{path}: unknown field {unknown[0]!r}; allowed: controls, programs, program_channel")
    controls = data.get("controls", [])
    if not isinstance(controls, list):
        raise MidiMapError(f"{path}: field 'controls' must be a list of objects")
    programs = data.get("programs", {})
    if not isinstance(programs, dict):
        raise MidiMapError(f"{path}: field 'programs' must be an object of program number: preset")
    return MidiMap(controls=[_control(spec, f"{path}: controls[{i}]") for i, spec in enumerate(controls)],
                   programs={_program_number(key, f"{path}: programs"): _preset_ref(value, path, key)
                             for key, value in programs.items()},
                   program_channel=check_channel(data.get("program_channel"), f"{path}: program_channel"))


def midi_map_data(midi_map: MidiMap) -> dict:
    """The mapping file's JSON object for ``midi_map`` (what :func:`load_midi_map` reads back);
    controls not bound to a controller or note yet are left out."""
    controls = []
    for m in midi_map.controls:
        if m.cc is None and m.note is None:
            continue
        spec: dict = {"target": m.target}
        if m.note is not None:
            spec["note"] = m.note
        else:
            spec["cc"] = m.cc
            if m.fine:
                spec["14bit"] = True
        if m.channel is not None:
            spec["channel"] = m.channel
        if m.target != "bypass" and m.low is not None and m.high is not None:
            spec["range"] = [m.low, m.high]
        if m.curve != 1.0:
            spec["curve"] = m.curve
        if m.smoothing_ms is not None:
            spec["smoothing_ms"] = m.smoothing_ms
        controls.append(spec)
    data: dict = {"controls": controls}
    if midi_map.programs:
        data["programs"] = {str(number): preset for number, preset in sorted(midi_map.programs.items())}
    if midi_map.program_channel is not None:
        data["program_channel"] = midi_map.program_channel
    return data


def save_midi_map(midi_map: MidiMap, path: str | os.PathLike[str]) -> None:
    """Write ``midi_map`` as a mapping file, atomically."""
    write_text_atomic(path, json.dumps(midi_map_data(midi_map), indent=1) + "\n")


def _control(spec: object, where: str) -> CCMapping:
    if not isinstance(spec, dict):
        raise MidiMapError(f"{where}: must be an object with 'target' and 'cc' or 'note'")
    unknown = sorted(set(spec) - CONTROL_FIELDS)
    if unknown:
        raise MidiMapError(f"{where}: unknown field {unknown[0]!r}; allowed: {', '.join(sorted(CONTROL_FIELDS))}")
    target = spec.get("target")
    parameter = is_parameter_target(target)
    if target not in TARGETS and not parameter:
        raise MidiMapError(f"{where}.target: must be one of {', '.join(TARGETS)} or STAGE.PARAMETER "
                           f"(e.g. 'stage 1.cutoff_frequency_hz'), got {target!r}")
    if ("cc" in spec) == ("note" in spec):
        raise MidiMapError(f"{where}: give either 'cc' or 'note'")
    if "note" in spec and target != "bypass":
        raise MidiMapError(f"{where}.note: notes can only drive bypass, not {target}")
    fine = spec.get("14bit", False)
    if not isinstance(fine, bool):
        raise MidiMapError(f"{where}.14bit: must be true or false, got {fine!r}")
    low, high = TARGETS.get(target, (None, None))
    if "range" in spec:
        low, high = check_range(spec["range"], target, f"{where}.range", MidiMapError)
    curve = check_curve(spec.get("curve", 1.0), f"{where}.curve", MidiMapError)
    smoothing = spec.get("smoothing_ms")
    if smoothing is not None and (not parameter or not _is_number(smoothing)
                                  or not 0 <= smoothing <= MAX_SMOOTHING_MS):
        raise MidiMapError(f"{where}.smoothing_ms: must be a number from 0 to {MAX_SMOOTHING_MS:g} and is for "
                           f"STAGE.PARAMETER targets only, got {smoothing!r}")
    channel = check_channel(spec.get("channel"), f"{where}.channel")
    if "note" in spec:
        return CCMapping(target=target, note=check_byte(spec["note"], f"{where}.note", 127), channel=channel)
    cc = check_byte(spec["cc"], f"{where}.cc", 31 if fine else 127)
    return CCMapping(cc=cc, channel=channel, low=low, high=high, curve=float(curve), fine=fine, target=target,
                     smoothing_ms=None if smoothing is None else float(smoothing))


def check_range(value: object, target: str, where: str, error: type[ValueError] = ValueError) -> tuple[float, float]:
    """A mapping's ``[low, high]``: two finite numbers within the target's RANGE_LIMITS (any
    finite numbers for a STAGE.PARAMETER target, which its parameter's range then bounds)."""
    limits = RANGE_LIMITS.get(target)
    span = f" from {limits[0]:g} to {limits[1]:g}" if limits else ""
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_number(v) for v in value)) \
            or (limits and not all(limits[0] <= v <= limits[1] for v in value)):
        raise error(f"{where}: must be two finite numbers [low, high]{span} for {target}, got {_text(value)}")
    return float(value[0]), float(value[1])


def check_curve(value: object, where: str, error: type[ValueError] = ValueError) -> float:
    """A mapping's ``curve``: a finite exponent within CURVE_RANGE."""
    lo, hi = CURVE_RANGE
    if not _is_number(value) or not lo <= value <= hi:
        raise error(f"{where}: must be a number from {lo:g} to {hi:g}, got {_text(value)}")
    return float(value)


def _text(value: object) -> str:
    """``value`` for an error line: JSON's spelling of non-finite numbers, at most 60 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: object) -> bool:
    """A finite JSON number (Python's json reads NaN and Infinity too)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_byte(value: object, where: str, top: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= top:
        raise MidiMapError(f"{where}: must be an integer 0..{top}, got {value!r}")
    return value


def check_channel(value: object, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 16:
        raise MidiMapError(f"{where}: must be a MIDI channel 1..16, got {value!r}")
    return value


def _program_number(key: str, where: str) -> int:
    if not key.isdigit() or not 0 <= int(key) <= 127:
        raise MidiMapError(f"{where}: keys must be program numbers 0..127, got {key!r}")
    return int(key)


def _preset_ref(value: object, path: Path, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise MidiMapError(f"{path}: programs.{key}: must be a preset name or a preset file, got {value!r}")
    if value.endswith(".json") and not Path(value).is_absolute():
        return str(path.parent / value)
    return value
