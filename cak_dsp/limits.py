"""Bounds on every number that sizes work or memory, and the one check that enforces them.

A number enters cak from a command line, a file or a call; wherever it enters it is checked
here: finite, within a documented range, or refused with one line naming where it came
from, the value and the range. Ranges (README, "Bad input"):

* sample rates: :data:`SAMPLE_RATE_RANGE` Hz (a render's ``--samplerate``, an input file's
  rate, a preset's ``stft.sample_rate``);
* a render's tail: 0 .. :data:`MAX_TAIL_SECONDS` seconds;
* channels of an input file: 1 .. :data:`MAX_CHANNELS`;
* parallel render jobs: 1 .. :data:`MAX_JOBS`.
"""
from __future__ import annotations

import math

SAMPLE_RATE_RANGE = (8000, 384000)
MAX_TAIL_SECONDS = 600.0
MAX_CHANNELS = 64
MAX_JOBS = 256


def check_number(value: object, where: str, low: float, high: float, unit: str = "",
                 error: type[ValueError] = ValueError, integer: bool = False) -> float:
    """``value`` if it is a finite number (an integer when ``integer``) in ``low .. high``, else
    a one-line ``error`` ``"WHERE: must be ... between LOW and HIGH UNIT, got VALUE"`` (no
    ``WHERE: `` when ``where`` is empty, as for an argparse type, which names the option)."""
    kind = "an integer" if integer else "a number"
    unit = f" {unit}" if unit else ""
    shown = repr(value) if isinstance(value, str) else str(value)
    shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
    prefix = f"{where}: " if where else ""
    refused = error(f"{prefix}must be {kind} between {low:g} and {high:g}{unit}, got {shown}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise refused
    if isinstance(value, float) and not math.isfinite(value):
        raise refused
    if integer and isinstance(value, float) and not value.is_integer():
        raise refused
    if not low <= value <= high:
        raise refused
    return value


def check_sample_rate(rate: object, where: str, error: type[ValueError] = ValueError) -> int:
    """A sample rate in :data:`SAMPLE_RATE_RANGE` Hz, as an int."""
    return int(check_number(rate, where, *SAMPLE_RATE_RANGE, "Hz", error, integer=True))


def check_tail(seconds: object, where: str = "tail", error: type[ValueError] = ValueError) -> float:
    """A tail length of 0 .. :data:`MAX_TAIL_SECONDS` seconds."""
    return float(check_number(seconds, where, 0.0, MAX_TAIL_SECONDS, "seconds", error))


def check_channels(channels: object, where: str, error: type[ValueError] = ValueError) -> int:
    """A channel count of 1 .. :data:`MAX_CHANNELS`."""
    return int(check_number(channels, where, 1, MAX_CHANNELS, "channels", error, integer=True))


def check_jobs(jobs: object, where: str, error: type[ValueError] = ValueError) -> int:
    """A number of parallel jobs of 1 .. :data:`MAX_JOBS`."""
    return int(check_number(jobs, where, 1, MAX_JOBS, "", error, integer=True))
