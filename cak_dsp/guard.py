"""The guard on samples that cross a plugin stage: finite and within +/-``SAMPLE_LIMIT``.

A pedalboard plugin is a black box: one NaN sample into a reverb fills its state with NaN and
silences the rest of the stream, and a NaN or absurd parameter can make it emit NaN or
infinity. :class:`~cak_dsp.PluginStage` therefore passes its input and its output through
:func:`repair`: NaN and infinite samples become silence, finite ones are clamped to
+/-``SAMPLE_LIMIT`` (+80 dBFS, the engine's own limit), and the count of non-finite samples
comes back so that the stage can reset the plugin and report it. Jitted, allocation-free, and
compiled by :func:`warm` before any stream starts.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .engine import SAMPLE_LIMIT
from .vecmath import JIT


@njit(**JIT)
def _repair(x, limit, write):
    """Count the non-finite samples of ``x`` (channels, n); with ``write``, silence them and clamp
    the rest to +/-``limit`` in place."""
    bad = 0
    channels, n = x.shape
    for ch in range(channels):
        for i in range(n):
            v = x[ch, i]
            if not math.isfinite(v):
                bad += 1
                if write:
                    x[ch, i] = 0.0
            elif write and (v > limit or v < -limit):
                x[ch, i] = limit if v > 0 else -limit
    return bad


def count_nonfinite(x: np.ndarray) -> int:
    """How many samples of the float32 (channels, n) array ``x`` are NaN or infinite."""
    return int(_repair(x, SAMPLE_LIMIT, False))


def repair(x: np.ndarray) -> int:
    """Silence the non-finite samples of ``x`` (writeable float32, (channels, n)) and clamp the
    rest to +/-``SAMPLE_LIMIT``, in place; returns how many were non-finite."""
    return int(_repair(x, SAMPLE_LIMIT, True))


def warm() -> None:
    """Compile (or load) the guard for the layouts a stage meets: contiguous and strided."""
    c = np.zeros((2, 3), np.float32)
    for layout in (c, np.asfortranarray(c), np.zeros((2, 6), np.float32)[:, ::2]):
        repair(layout)
        count_nonfinite(layout)
