"""The CAK residual: ``y = x + (conv3x3(x) + bias) * c * sigmoid((c - tau) * T) * s``.

``conv3x3`` is torch ``Conv2d`` cross-correlation over (frequency, time) with zero padding
at the frequency edges; the three time columns are the previous, current and next frame.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit



@njit(cache=True, nogil=True)
def gate(texture: float, threshold: float, temperature: float) -> float:
    """The soft gate ``sigmoid((c - tau) * T)``."""
    return 1.0 / (1.0 + math.exp(min(-(texture - threshold) * temperature, 700.0)))


@njit(cache=True, nogil=True)
def residual_gain(texture: float, scale: float, threshold: float, temperature: float) -> float:
    """``c * sigmoid((c - tau) * T) * s``: the residual's total multiplier; exactly 0 at c = 0."""
    return texture * scale * gate(texture, threshold, temperature)


@njit(cache=True, nogil=True)
def gate_blend(texture: float, threshold: float, temperature: float) -> float:
    """``(gate(c) - gate(0)) / (1 - gate(0))``: exactly 0 at c = 0, the gate's shape above it.

    What is published but not the identity (the soft clip, the ceiling's share of the level
    match) fades in with it, so c = 0 stays the identity.
    """
    closed = gate(0.0, threshold, temperature)
    return max((gate(texture, threshold, temperature) - closed) / (1.0 - closed), 0.0)


@njit(cache=True, nogil=True, error_model="numpy", fastmath={"nsz", "arcp", "contract", "reassoc"})
def apply_residual(prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray, weight: np.ndarray,
                   bias: float, gain: float, out: np.ndarray) -> None:
    """Write ``cur + (conv3x3([prev, cur, nxt]) + bias) * gain`` for every bin into ``out``.

    The frames and ``out`` are float32, and so is the arithmetic (the normalized values lie in
    [0, 1]): a loop of one width packs eight bins per AVX2 instruction.
    """
    n = cur.shape[0]
    f = np.float32
    w00, w01, w02 = f(weight[0, 0]), f(weight[0, 1]), f(weight[0, 2])
    w10, w11, w12 = f(weight[1, 0]), f(weight[1, 1]), f(weight[1, 2])
    w20, w21, w22 = f(weight[2, 0]), f(weight[2, 1]), f(weight[2, 2])
    b = f(bias)
    g = f(gain)
    for k in range(1, n - 1):  # the edges below: no branch in the loop, so it vectorizes whole
        acc = b + w10 * prev[k] + w11 * cur[k] + w12 * nxt[k]
        acc += w00 * prev[k - 1] + w01 * cur[k - 1] + w02 * nxt[k - 1]
        acc += w20 * prev[k + 1] + w21 * cur[k + 1] + w22 * nxt[k + 1]
        out[k] = cur[k] + acc * g
    for k in (0, n - 1):  # zero padding beyond the frequency edges
        acc = b + w10 * prev[k] + w11 * cur[k] + w12 * nxt[k]
        if k > 0:
            acc += w00 * prev[k - 1] + w01 * cur[k - 1] + w02 * nxt[k - 1]
        if k < n - 1:
            acc += w20 * prev[k + 1] + w21 * cur[k + 1] + w22 * nxt[k + 1]
        out[k] = cur[k] + acc * g
