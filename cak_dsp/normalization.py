"""Magnitude normalization between linear STFT magnitude and the kernel's domain.

Both modes share the published chain (alpha, global_low/high and gamma come from the preset)::

    u = (log(1 + alpha * sqrt(m)) - low) / (high - low)      x = u ** gamma

``reference`` reproduces the published inference code exactly: ``u`` is clipped to [0, 1]
(with the original ``+1e-8`` in the divisor), and the inverse clips the kernel output to
[0, 1] and adds ``1e-8`` before the inverse gamma. Everything louder than the training
corpus's 99.99th percentile is flattened to that level, and c = 0 is not exactly the identity.

``transparent`` (the default) drops both clips: ``u ** gamma`` is extended to negative
values as ``sign(u) * |u| ** gamma``, the inverse is exact, and a kernel output at or
below the silence level gives zero magnitude. It is continuous in ``c``, keeps loud bins
(a 0 dBFS sine is far above the clip point), and is the identity at c = 0. The engine
keeps each frame's energy in this mode (see :mod:`cak_dsp.engine`), since without the clip
the learned residual can add tens of dB.

These are scalar, jitted functions; the engine applies them per bin.
"""
from __future__ import annotations

import numpy as np
from numba import njit

TRANSPARENT = 0
REFERENCE = 1
MODES = {"transparent": TRANSPARENT, "reference": REFERENCE}

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}
_LOG_CEILING = 80.0


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def normalize(m: float, alpha: float, low: float, high: float, gamma: float, mode: int) -> float:
    """Linear magnitude -> kernel domain."""
    log_mag = np.log(1.0 + alpha * np.sqrt(m))
    if mode == REFERENCE:
        u = (log_mag - low) / (high - low + 1e-8)
        if u <= 0.0:
            return 0.0
        if u > 1.0:
            u = 1.0
        return np.exp(gamma * np.log(u))
    u = (log_mag - low) / (high - low)
    if u > 0.0:
        return np.exp(gamma * np.log(u))
    if u < 0.0:
        return -np.exp(gamma * np.log(-u))
    return 0.0


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def denormalize(y: float, alpha: float, low: float, high: float, gamma: float, mode: int) -> float:
    """Kernel domain -> linear magnitude (never negative, never infinite)."""
    inv_gamma = 1.0 / gamma
    if mode == REFERENCE:
        if y < 0.0:
            y = 0.0
        elif y > 1.0:
            y = 1.0
        u = np.exp(inv_gamma * np.log(y + 1e-8))
    elif y > 0.0:
        u = np.exp(inv_gamma * np.log(y))
    elif y < 0.0:
        u = -np.exp(inv_gamma * np.log(-y))
    else:
        u = 0.0
    log_mag = u * (high - low) + low
    if log_mag > _LOG_CEILING:
        log_mag = _LOG_CEILING
    root = (np.exp(log_mag) - 1.0) / alpha
    if root <= 0.0:
        return 0.0
    return root * root
