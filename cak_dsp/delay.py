"""The one delay line of cak: a fixed delay for several channels, allocation-free and jitted.

Used wherever a signal must line up with a processor's output: the dry path of the live mixer,
the loudness follower's dry input, and the program bank's shorter-latency engines. ``process``
may run in place (``out`` is ``x``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .vecmath import JIT


@njit(**JIT)
def delay_block(x, out, ring, pos):
    """``out`` = ``x`` delayed by the ring's length; ``pos[0]`` is the ring's index. Jitted code
    that runs a :class:`DelayLine` inside its own pass calls this with the line's ``ring`` and
    ``position`` (for a line of ``samples`` > 0)."""
    channels, n = x.shape
    size = ring.shape[1]
    start = pos[0]
    for ch in range(channels):
        p = start
        for i in range(n):
            y = ring[ch, p]
            ring[ch, p] = x[ch, i]
            out[ch, i] = y
            p += 1
            if p == size:
                p = 0
    pos[0] = (start + n) % size


class DelayLine:
    """Delays ``channels`` channels by ``samples`` (0 passes the signal through)."""

    def __init__(self, channels: int, samples: int) -> None:
        if samples < 0:
            raise ValueError(f"a delay cannot be negative, got {samples}")
        self.samples = int(samples)
        self._ring = np.zeros((channels, max(self.samples, 1)), np.float32)
        self._pos = np.zeros(1, np.int64)
        self._warm(channels)
        self.reset()

    def _warm(self, channels: int) -> None:
        """Compile (or load) every array layout a host hands over: C, Fortran (an interleaved
        device buffer, transposed) and strided, in and out, so no callback ever compiles."""
        c = np.zeros((channels, 2), np.float32)
        layouts = (c, np.asfortranarray(c), np.zeros((channels, 4), np.float32)[:, ::2])
        for x in layouts:
            for out in layouts:
                delay_block(x, out.copy(order="K") if out is x else out, self._ring, self._pos)

    def process(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Write ``x`` (channels, n) delayed into ``out`` (may be ``x``); returns ``out``."""
        if x.shape != out.shape or x.shape[0] != self._ring.shape[0]:
            raise ValueError(f"delay line of {self._ring.shape[0]} channel(s): got {x.shape} into {out.shape}")
        if self.samples:
            delay_block(x, out, self._ring, self._pos)
        elif out is not x:
            out[...] = x
        return out

    @property
    def ring(self) -> np.ndarray:
        """The line's (channels, samples) float32 ring, for :func:`delay_block`."""
        return self._ring

    @property
    def position(self) -> np.ndarray:
        """The ring's index, a one-element int64 array, for :func:`delay_block`."""
        return self._pos

    def reset(self) -> None:
        """Silence the line."""
        self._ring.fill(0)
        self._pos[0] = 0
