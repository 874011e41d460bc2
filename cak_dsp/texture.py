"""The texture policy: one range and one rule, for every place a texture value ``c`` comes in.

``c`` runs over :data:`TEXTURE_RANGE`, 0 (the exact identity) to 2.

* **Refuse** what a caller or a file gives: the API (``CakEngine.texture``, ``Cak``, ``Chain``,
  the program bank, ``render``'s constant or curve, ``LiveConfig.texture``), the command line,
  chain files, automation envelopes and the controller ranges that make them.
  :func:`check_texture` and :func:`check_texture_curve` raise a one-line :class:`ValueError`
  naming where, the value and the range; NaN and infinities are refused too.
* **Clamp** what a live control gives (a MIDI controller, a learned knob, ``LiveHost.set_texture``
  from another thread): :func:`clamp_texture` never raises, so neither a MIDI thread nor an audio
  callback stops on a value; NaN becomes 0, the identity. Live, a MIDI mapping's range may
  therefore reach past the texture range (the knob rests at its end); offline, where the same
  mapping turns a MIDI file into an automation (``cak render --midi-map``), it is refused.
"""
from __future__ import annotations

import math

import numpy as np

TEXTURE_RANGE = (0.0, 2.0)


def _refused(value, where: str | None, error: type[ValueError], at: str = "") -> ValueError:
    lo, hi = TEXTURE_RANGE
    prefix = f"{where}: " if where else ""
    return error(f"{prefix}texture must be between {lo} and {hi}, got {value}{at}")


def check_texture(value: float, where: str | None = None, error: type[ValueError] = ValueError) -> float:
    """``value`` as a float if it is a finite number within :data:`TEXTURE_RANGE`, else a
    one-line ``error`` (a :class:`ValueError`, or a subclass such as a file format's error)
    prefixed with ``where``, e.g. a file and line."""
    lo, hi = TEXTURE_RANGE
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _refused(repr(value), where, error) from None
    if not (math.isfinite(number) and lo <= number <= hi):
        raise _refused(number, where, error)
    return number


def check_texture_curve(curve: np.ndarray, where: str | None = None,
                        error: type[ValueError] = ValueError) -> np.ndarray:
    """A per-sample texture curve as float64, every value checked as by :func:`check_texture`;
    the error names the first bad value and its sample."""
    lo, hi = TEXTURE_RANGE
    curve = np.asarray(curve, dtype=np.float64)
    bad = ~(np.isfinite(curve) & (curve >= lo) & (curve <= hi))
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise _refused(float(curve.flat[index]), where, error, at=f" at sample {index}")
    return curve


def clamp_texture(value: float) -> float:
    """``value`` moved into :data:`TEXTURE_RANGE` (NaN: 0); never raises for a number, for live controls."""
    lo, hi = TEXTURE_RANGE
    number = float(value)
    if math.isnan(number):
        return lo
    return min(max(number, lo), hi)
