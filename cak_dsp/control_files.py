"""Control targets from files: the MIDI mapping file (live, and offline with a MIDI file) and
CSV envelopes (offline).

::

    cak live   --chain c.json --midi-map map.json                            # CC 20 moves the cutoff
    cak render --chain c.json --midi-map map.json --automation take.mid in.wav out.wav   # same, offline
    cak render --chain c.json --automate hp.cutoff_frequency_hz=sweep.csv in.wav out.wav

A mapping file's parameter control (``{"target": "hp.cutoff_frequency_hz", "cc": 20,
"range": [80, 4000], "curve": 2, "smoothing_ms": 30}``) maps the controller position ``x``
(0..1; 14-bit pairs as live) to ``low + (high - low) * x ** curve``, exactly as the live host
does; without ``range`` a VST3 parameter spans its own range, and a built-in's (which
pedalboard does not state) must be given. Offline, each such control reads its controller
from ``--automation FILE.mid`` (see :mod:`cak_dsp.controls` for how events become control
boundaries). A CSV envelope gives ``time,value`` points in the parameter's own units, followed
without smoothing (the envelope is already the shape wanted, sampled every control block). Every
range and value is checked against the parameter where it enters (VST3: its stated range;
frequencies: 0 .. Nyquist at the rate the chain runs at).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .automation import Automation, AutomationError, _csv_envelope, finite_value
from .controls import ControlBank, ControlError, ParameterAutomation, ParameterControl, is_parameter_target, resolve
from .texture import check_texture


@dataclass(frozen=True)
class ControlSpec:
    """One parameter control before it meets a chain: its ``target`` text, ``where`` it was
    written (for messages), the MIDI mapping (``cc``, ``channel``, ``fine``, ``low``, ``high``,
    ``curve``), ``smoothing_ms``, and offline, the ``midi_file`` or ``csv_file`` that drives it."""

    target: str
    where: str
    low: float | None = None
    high: float | None = None
    curve: float = 1.0
    smoothing_ms: float | None = None
    cc: int | None = None
    channel: int | None = None
    fine: bool = False
    midi_file: str | None = None
    csv_file: str | None = None


def specs_from_mappings(mappings: Sequence, source: str | os.PathLike[str],
                        midi_file: str | os.PathLike[str] | None = None) -> list[ControlSpec]:
    """The parameter controls of a mapping file's ``CCMapping`` list (other targets are skipped);
    with ``midi_file``, each reads its controller from that file (offline)."""
    return [ControlSpec(m.target, f"{source}: controls[{i}]", m.low, m.high, m.curve, m.smoothing_ms, m.cc,
                        m.channel, m.fine, None if midi_file is None else str(midi_file))
            for i, m in enumerate(mappings) if is_parameter_target(m.target)]


def specs_from_envelopes(items: Sequence[str]) -> list[ControlSpec]:
    """``["hp.cutoff_frequency_hz=sweep.csv", ...]`` (``cak render --automate``)."""
    specs = []
    for item in items:
        target, sep, path = item.partition("=")
        if not sep or not is_parameter_target(target) or not path.strip():
            raise ControlError(f"--automate {item!r}: expected STAGE.PARAMETER=FILE.csv, "
                               "e.g. hp.cutoff_frequency_hz=sweep.csv")
        specs.append(ControlSpec(target.strip(), path.strip(), smoothing_ms=0.0, csv_file=path.strip()))
    return specs


def bind_controls(chain, specs: Sequence[ControlSpec]) -> ControlBank | None:
    """Resolve ``specs`` against ``chain`` and set ``chain.controls`` (None when there are none).

    Specs naming one parameter share one control (live: several controllers on one knob;
    offline, two automations of one parameter are refused). Errors are one line naming the
    spec's file (and control), the stage, the parameter and the valid range.
    """
    if not specs:
        return None
    controls: list[ParameterControl] = []
    aliases: dict[str, ParameterControl] = {}
    by_key: dict[tuple[int, str], tuple[ParameterControl, ControlSpec]] = {}
    for spec in specs:
        try:
            binding = resolve(chain, spec.target)
            if spec.csv_file is not None:
                automation = _csv_automation(spec)
                low, high = min(automation.values), max(automation.values)
            else:
                low, high = _span(binding, spec)
                automation = None if spec.midi_file is None else _midi_automation(spec, low, high)
            key = (binding.index, binding.parameter)
            if key in by_key:
                control, first = by_key[key]
                if automation is not None:
                    raise ControlError(f"{binding.label} is already automated by {first.where}")
                binding.check_span(low, high)
                control.low, control.high = min(control.low, low, high), max(control.high, low, high)
            else:
                control = ParameterControl(binding, low, high, spec.smoothing_ms, automation, spec.where)
                controls.append(control)
                by_key[key] = (control, spec)
        except (ControlError, AutomationError) as exc:
            message = str(exc)
            raise ControlError(message if message.startswith(spec.where) else f"{spec.where}: {message}") from None
        aliases[spec.target] = control
    chain.controls = ControlBank(controls, aliases)
    return chain.controls


def bind_midi_map(chain, mappings: Sequence, source: str | os.PathLike[str] | None) -> ControlBank | None:
    """Live: bind a mapping file's parameter controls to ``chain`` (None without any) and fill in
    each mapping's range where the file left it to the parameter."""
    specs = specs_from_mappings(mappings, source or "--midi-map")
    if specs and chain is None:
        raise ControlError(f"{specs[0].where}: target {specs[0].target!r} names a chain stage; run with --chain")
    bank = bind_controls(chain, specs) if specs else None
    for mapping in mappings:
        if bank is not None and mapping.target in bank.aliases and mapping.low is None:
            control = bank.aliases[mapping.target]
            mapping.low, mapping.high = control.low, control.high
    return bank


def texture_automation(midi_file: str | os.PathLike[str], mapping, interpolation: str | None = None) -> Automation:
    """The texture knob of a mapping file read from a MIDI file (7- or 14-bit, as live), for the
    CAK stages' per-sample texture curve (:mod:`cak_dsp.automation`)."""
    for end in (mapping.low, mapping.high):
        check_texture(end, f"texture range {mapping.low}..{mapping.high}", ControlError)
    times, xs = _controller_positions(Path(midi_file), mapping.cc, mapping.channel, mapping.fine)
    if not times:
        raise ControlError(f"{midi_file}: no CC {mapping.cc} messages for the texture mapping")
    values = [mapping.low + (mapping.high - mapping.low) * x ** mapping.curve for x in xs]
    return Automation(np.array(times), np.array(values), interpolation or "hold")


def _span(binding, spec: ControlSpec) -> tuple[float, float]:
    """The values a MIDI control can ask for: its range, else the parameter's own."""
    if spec.low is not None and spec.high is not None:
        return spec.low, spec.high
    info = binding.info()
    if info.low is None or info.high is None:
        raise ControlError(f"{binding.label} states no range; give the control a 'range': [low, high]")
    return info.low, info.high


def _csv_automation(spec: ControlSpec) -> ParameterAutomation:
    times, values = _csv_envelope(Path(spec.csv_file), finite_value)
    return ParameterAutomation(tuple(times.tolist()), tuple(values.tolist()), "linear")


def _midi_automation(spec: ControlSpec, low: float, high: float) -> ParameterAutomation:
    times, xs = _controller_positions(Path(spec.midi_file), spec.cc, spec.channel, spec.fine)
    if not times:
        where = "" if spec.channel is None else f" on channel {spec.channel}"
        raise ControlError(f"{spec.midi_file}: no CC {spec.cc} messages{where} for target {spec.target!r}")
    values = tuple(low + (high - low) * x ** spec.curve for x in xs)
    return ParameterAutomation(tuple(times), values, "hold")


def _controller_positions(path: Path, cc: int, channel: int | None, fine: bool) -> tuple[list[float], list[float]]:
    """(seconds, controller position 0..1) of controller ``cc`` in a MIDI file, read as the live
    host reads it: 7-bit ``value / 127``, or with ``fine`` the MSB ``cc`` (``(msb << 7) / 16383``)
    and the LSB ``cc + 32`` (``((msb << 7) | lsb) / 16383``)."""
    import mido

    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise ControlError(f"{path}: not a readable MIDI file ({exc})") from None
    now, msb, times, xs = 0.0, 0, [], []
    for message in midi:
        now += message.time
        if message.type != "control_change" or (channel is not None and message.channel != channel - 1):
            continue
        if message.control == cc:
            if fine:
                msb = message.value
                xs.append((message.value << 7) / 16383.0)
            else:
                xs.append(message.value / 127.0)
        elif fine and message.control == cc + 32:
            xs.append(((msb << 7) | message.value) / 16383.0)
        else:
            continue
        times.append(now)
    return times, xs
