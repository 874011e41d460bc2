"""Texture automation for offline renders: breakpoints from a CSV envelope or a MIDI file's CC.

An :class:`Automation` is a list of (seconds, c) breakpoints, ``linear`` (ramps between points)
or ``hold`` (each value holds until the next point, as a knob that jumps). Before the first
point the first value holds; after the last, the last. Calling it with ``(start, count)`` at a
sample rate gives one value per sample, which the engine reads once per frame at the sample
where the frame is processed: exactly what a live stream would do had the knob been set to
those values at those samples.

CSV envelopes have one ``time,value`` pair per line (seconds, texture); a header line and
``#`` comments are allowed. MIDI files give the controller's value changes, mapped like
``cak live``'s knob (``low + (high - low) * (cc / 127) ** curve``) and held between messages;
tempo changes are honoured (mido turns ticks into seconds).
"""
from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .texture import check_texture

INTERPOLATIONS = ("linear", "hold")


class AutomationError(ValueError):
    """An automation file that cannot be used (one line naming the file, line and value)."""


@dataclass(frozen=True)
class Automation:
    """Texture breakpoints: ``times`` in seconds (non-decreasing) and ``values`` of ``c``."""

    times: np.ndarray
    values: np.ndarray
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}")
        if len(self.times) == 0 or len(self.times) != len(self.values):
            raise ValueError("automation needs at least one (time, value) point")

    def curve(self, sample_rate: float, start: int, count: int) -> np.ndarray:
        """Texture at samples ``start .. start + count`` at ``sample_rate``."""
        t = (start + np.arange(count)) / float(sample_rate)
        if self.interpolation == "linear":
            return np.interp(t, self.times, self.values)
        index = np.searchsorted(self.times, t, side="right") - 1
        return self.values[np.clip(index, 0, len(self.values) - 1)]

    def at(self, sample_rate: float):
        """The ``(start, count) -> curve`` callable that :meth:`Chain.stream` takes."""
        return lambda start, count: self.curve(sample_rate, start, count)


def load_automation(path: str | os.PathLike[str], interpolation: str | None = None, cc: int = 1,
                    channel: int | None = None, low: float = 0.0, high: float = 1.5,
                    curve: float = 1.0) -> Automation:
    """Read a ``.csv`` envelope (linear unless told) or a ``.mid`` file's controller ``cc`` (held)."""
    path = Path(path)
    if path.suffix.lower() in (".mid", ".midi"):
        times, values = _midi_cc(path, cc, channel, low, high, curve)
        return Automation(times, values, interpolation or "hold")
    times, values = _csv_envelope(path)
    return Automation(times, values, interpolation or "linear")


def finite_value(value: float, where: str, error: type[ValueError] = ValueError) -> float:
    """The value check of a stage parameter's envelope (its range is checked where it meets the stage)."""
    if not math.isfinite(value):
        raise error(f"{where}: value must be a finite number, got {value}")
    return value


def _csv_envelope(path: Path, check: Callable[..., float] = check_texture) -> tuple[np.ndarray, np.ndarray]:
    """``time,value`` points of a CSV file; each value passes ``check(value, where, error)``
    (default: the texture policy, :func:`cak_dsp.texture.check_texture`)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise AutomationError(f"{path}: cannot read automation ({exc})") from None
    times, values = [], []
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise AutomationError(f"{path}: line {number}: expected 'time,value', got {','.join(row)!r}")
        try:
            t, v = float(row[0]), float(row[1])
        except ValueError:
            if not times:
                continue
            raise AutomationError(f"{path}: line {number}: not numbers: {','.join(row)!r}") from None
        if not (np.isfinite(t) and t >= 0):
            raise AutomationError(f"{path}: line {number}: time must be a finite number of seconds >= 0, got {row[0]}")
        if times and t < times[-1]:
            raise AutomationError(f"{path}: line {number}: times must not go backwards ({t} after {times[-1]})")
        check(v, f"{path}: line {number}", AutomationError)
        times.append(t)
        values.append(v)
    if not times:
        raise AutomationError(f"{path}: no 'time,value' points found")
    return np.array(times), np.array(values)


def _midi_cc(path: Path, cc: int, channel: int | None, low: float, high: float,
             curve: float) -> tuple[np.ndarray, np.ndarray]:
    import mido

    for end in (low, high):
        check_texture(end, f"CC range {low}..{high}", AutomationError)
    try:
        midi = mido.MidiFile(str(path))
    except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
        raise AutomationError(f"{path}: not a readable MIDI file ({exc})") from None
    now, times, values = 0.0, [], []
    for message in midi:
        now += message.time
        if message.type != "control_change" or message.control != cc:
            continue
        if channel is not None and message.channel != channel - 1:
            continue
        times.append(now)
        values.append(low + (high - low) * (message.value / 127.0) ** curve)
    if not times:
        where = "" if channel is None else f" on channel {channel}"
        raise AutomationError(f"{path}: no CC {cc} messages{where}; pick another with --cc / --cc-channel")
    return np.array(times), np.array(values)
