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

Both directions work on whole frames (one loop per mode, so the loops vectorize).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .vecmath import JIT, TINY, vexp, vlog

TRANSPARENT = 0
REFERENCE = 1
MODES = {"transparent": TRANSPARENT, "reference": REFERENCE}

_LOG_CEILING = 80.0


@njit(**JIT)
def normalize_frame(mags: np.ndarray, out: np.ndarray, alpha: float, low: float, high: float,
                    gamma: float, scale: float, mode: int) -> None:
    """``out[k]`` = kernel-domain value of the linear magnitude ``mags[k] * scale``."""
    if mode == REFERENCE:
        inv = 1.0 / (high - low + 1e-8)
        for k in range(mags.shape[0]):
            u = (vlog(1.0 + alpha * np.sqrt(mags[k] * scale)) - low) * inv
            u = min(u, 1.0)
            out[k] = vexp(gamma * vlog(max(u, TINY))) if u > 0.0 else 0.0
    else:
        inv = 1.0 / (high - low)
        for k in range(mags.shape[0]):
            u = (vlog(1.0 + alpha * np.sqrt(mags[k] * scale)) - low) * inv
            p = vexp(gamma * vlog(max(abs(u), TINY)))
            out[k] = p if u > 0.0 else (-p if u < 0.0 else 0.0)


@njit(**JIT)
def denormalize_frame(values: np.ndarray, alpha: float, low: float, high: float, gamma: float,
                      scale: float, mode: int) -> None:
    """Replace kernel-domain ``values`` by linear magnitudes divided by ``scale`` (never < 0)."""
    inv_gamma = 1.0 / gamma
    span = high - low
    inv_alpha = 1.0 / alpha
    inv_scale = 1.0 / scale
    if mode == REFERENCE:
        for k in range(values.shape[0]):
            y = min(max(values[k], 0.0), 1.0)
            u = vexp(inv_gamma * vlog(y + 1e-8))
            root = max((vexp(min(u * span + low, _LOG_CEILING)) - 1.0) * inv_alpha, 0.0)
            values[k] = root * root * inv_scale
    else:
        for k in range(values.shape[0]):
            y = values[k]
            p = vexp(inv_gamma * vlog(max(abs(y), TINY)))
            u = p if y > 0.0 else -p
            root = max((vexp(min(u * span + low, _LOG_CEILING)) - 1.0) * inv_alpha, 0.0)
            values[k] = root * root * inv_scale
