"""The kernel's domain: the published magnitude normalization, and the per-bin gain made from it.

Analysis (both modes, exactly as the published code)::

    u = (log(1 + alpha * sqrt(m)) - low) / (high - low + 1e-8)      x = clip(u, 0, 1) ** gamma

The clip is part of the published sound: every bin louder than the training corpus's 99.99th
percentile meets the kernel at the same value (the "spectral ceiling"), and bins below
``low`` at zero. The kernel then computes ``y = x + residual`` (:mod:`cak_dsp.residual`).

Synthesis differs by mode:

``gain`` (the default) turns the published result into a gain on the input's own bin::

    g[k, t] = D(clip(y, 0, 1)) / D(x)        Y = g * X  (X the input's complex STFT)

where ``D`` is the exact inverse of the analysis above. ``D(x)`` is the input magnitude
itself wherever it lies between the floor ``D(0)`` and the ceiling ``D(1)``, and the
floor or ceiling outside, so no transcendental is spent on it. Every bin below the ceiling
gets exactly the published magnitude; a bin above it is scaled by the published gain of a
ceiling-level bin instead of being flattened to the ceiling; at c = 0, ``y = x`` and ``g`` is
1: the identity. A gain is at most ``MAX_GAIN_DB`` (60 dB): the published path lifts bins of
near-silence (pauses, the empty octave above a 44.1 kHz source played at 88.2 kHz) to the
kernel's floor, which a gain would have to do by 100 dB or more; real material needs at most
about 40-50 dB (99.9th percentile at c = 1.5 on drums, a fluidsynth render and speech).

``reference`` is the published inverse, clip and ``+1e-8`` included: the magnitude becomes
``D_pub(clip(y))`` with the input's phase, whatever the input level was, and c = 0 is not
exactly the identity.

Both directions work on whole frames (one loop per mode, so the loops vectorize). The
analysis and the ``gain`` mode's denormalization run their transcendentals in float32
(:func:`~cak_dsp.vecmath.vexpf`, :func:`~cak_dsp.vecmath.vlogf`; about a quarter of the float64
cost): the normalized values lie in [0, 1] and a gain's relative error stays near 1e-6, checked
by the parity, streaming, identity and default-sound tests at their tolerances. ``reference``
mode's denormalization stays float64, the published math; ``inverse_value`` too.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .residual import apply_residual
from .vecmath import JIT, TINY, TINY32, vexp, vexpf, vlog, vlogf

GAIN = 0
REFERENCE = 1
MAX_GAIN_DB = 60.0
_MAX_GAIN = 10.0 ** (MAX_GAIN_DB / 20.0)
MODES = {"gain": GAIN, "reference": REFERENCE}
DEFAULT_MODE = "gain"

_LOG_CEILING = 80.0
_F = np.float32
_ZERO, _ONE, _LOG_CEILING_F, _MAX_GAIN_F = _F(0.0), _F(1.0), _F(_LOG_CEILING), _F(_MAX_GAIN)
_SILENT = _F(-1e30)  # a pass's marker for "this bin is 0": below any log of a positive float32


def check_mode(mode: str) -> int:
    """The code of synthesis ``mode``; a one-line ValueError naming the valid modes otherwise."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return MODES[mode]


@njit(**JIT)
def normalize_frame(mags: np.ndarray, out: np.ndarray, alpha: float, low: float, high: float,
                    gamma: float, scale: float) -> None:
    """``out[k]`` = the published kernel-domain value of the linear magnitude ``mags[k] * scale``.

    ``mags`` and ``out`` are float32 and so is every operation (``vlogf``/``vexpf``): ``out``
    lies in [0, 1], where float32 holds it to about 1e-7. The work runs as three passes over
    the frame (log, then ``gamma`` times a log, then an exp), each a short chain of dependent
    instructions that the CPU overlaps across bins; one pass doing all three is bound by the
    chain's latency.
    """
    inv = _F(1.0 / (high - low + 1e-8))
    alpha_f, low_f, gamma_f, scale_f = _F(alpha), _F(low), _F(gamma), _F(scale)
    n = mags.shape[0]
    for k in range(n):
        out[k] = min((vlogf(_ONE + alpha_f * np.sqrt(mags[k] * scale_f)) - low_f) * inv, _ONE)
    for k in range(n):
        u = out[k]
        out[k] = gamma_f * vlogf(max(u, TINY32)) if u > _ZERO else _SILENT
    for k in range(n):
        v = out[k]
        out[k] = vexpf(v) if v > _SILENT else _ZERO


@njit(**JIT)
def inverse_value(y: float, alpha: float, low: float, high: float, gamma: float) -> float:
    """``D(y)``: the linear magnitude whose normalized value is ``y`` (exact inverse, no clip)."""
    u = vexp(vlog(max(y, TINY)) / gamma) if y > 0.0 else 0.0
    root = max((vexp(min(u * (high - low + 1e-8) + low, _LOG_CEILING)) - 1.0) / alpha, 0.0)
    return root * root


@njit(**JIT)
def bin_gains(values: np.ndarray, mags: np.ndarray, alpha: float, low: float, high: float, gamma: float,
              scale: float, floor: float, ceiling: float, mode: int) -> None:
    """Replace the kernel outputs ``values`` by per-bin gains on the input magnitudes ``mags``.

    ``values`` and ``mags`` are float32. ``floor`` and ``ceiling`` are ``D(0)`` and ``D(1)`` (from
    :func:`inverse_value`, in the ``scale``-d domain). In ``reference`` mode the gain is ``D_pub(clip(y)) / m``, so the
    result is the published magnitude; a silent bin (m = 0) keeps that magnitude as its gain.
    """
    inv_gamma = 1.0 / gamma
    span = high - low
    inv_alpha = 1.0 / alpha
    if mode == REFERENCE:
        for k in range(values.shape[0]):
            y = min(max(np.float64(values[k]), 0.0), 1.0)
            u = vexp(inv_gamma * vlog(y + 1e-8))
            root = max((vexp(min(u * span + low, _LOG_CEILING)) - 1.0) * inv_alpha, 0.0)
            m = np.float64(mags[k])
            values[k] = root * root / scale / m if m > 0.0 else root * root / scale
    else:
        inv_gamma_f, span_f, low_f, inv_alpha_f = _F(inv_gamma), _F(span + 1e-8), _F(low), _F(inv_alpha)
        scale_f, floor_f, ceiling_f = _F(scale), _F(floor), _F(ceiling)
        n = values.shape[0]
        for k in range(n):  # three passes, as in normalize_frame
            y = min(max(values[k], _ZERO), _ONE)
            values[k] = inv_gamma_f * vlogf(max(y, TINY32)) if y > _ZERO else _SILENT
        for k in range(n):
            v = values[k]
            u = vexpf(v) if v > _SILENT else _ZERO
            values[k] = min(u * span_f + low_f, _LOG_CEILING_F)
        for k in range(n):
            root = max((vexpf(values[k]) - _ONE) * inv_alpha_f, _ZERO)
            den = min(max(mags[k] * scale_f, floor_f), ceiling_f)
            values[k] = min(root * root / den, _MAX_GAIN_F) if den > _ZERO else _ONE


@njit(**JIT)
def frame_gains(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, weight: np.ndarray, bias: float,
                gain: float, mags: np.ndarray, alpha: float, low: float, high: float, gamma: float,
                scale: float, floor: float, ceiling: float, mode: int, out: np.ndarray) -> None:
    """One frame's per-bin gains into ``out``: the kernel's residual on the normalized frames
    ``prev``, ``cur``, ``nxt`` (:func:`~cak_dsp.residual.apply_residual`), then :func:`bin_gains`.

    With a residual ``gain`` of 0 (c = 0) ``y = x``, so in ``gain`` mode every bin's gain
    ``D(x) / clamp(m)`` is exactly 1: written as such, the identity holds to the bit.
    """
    if gain == 0.0 and mode != REFERENCE:
        for k in range(out.shape[0]):
            out[k] = 1.0
        return
    apply_residual(prev, cur, nxt, weight, bias, gain, out)
    bin_gains(out, mags, alpha, low, high, gamma, scale, floor, ceiling, mode)
