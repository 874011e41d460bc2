"""The vectorizable exp/log agree with numpy to 1 ulp over the ranges the engine uses."""
from __future__ import annotations

import numpy as np
from numba import njit

from cak_dsp.vecmath import JIT, TINY, vexp, vlog


@njit(**JIT)
def _log_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vlog(x[i])


@njit(**JIT)
def _exp_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vexp(x[i])


def _ulps(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error in units of the last place, over results whose ulp is a normal number.

    A plugin that was run in this process earlier (the DPF VST3 tests) may leave the thread's
    flush-to-zero / denormals-are-zero flags set, which turns subnormal ulps into 0.
    """
    normal = np.abs(want) >= np.finfo(np.float64).tiny * 2.0 ** 53
    return float(np.max(np.abs(got - want)[normal] / np.spacing(np.abs(want[normal]))))


def test_log_within_one_ulp() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([np.exp(rng.uniform(-690, 700, 200_000)), rng.uniform(0.5, 2.0, 100_000),
                        1.0 + rng.uniform(-1e-6, 1e-6, 10_000), [TINY, 1.0, 2.0, np.sqrt(2.0), 1e300]])
    x = x[x != 1.0]
    out = np.empty_like(x)
    _log_all(x, out)
    assert _ulps(out, np.log(x)) <= 1.0


def test_exp_within_one_ulp_and_saturates() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-708, 709, 200_000), rng.uniform(-1e-3, 1e-3, 10_000), [0.0, 1.0, -1.0]])
    out = np.empty_like(x)
    _exp_all(x, out)
    assert _ulps(out, np.exp(x)) <= 1.0
    edges = np.array([-1e6, -np.inf, 1e6, np.inf])
    out = np.empty_like(edges)
    _exp_all(edges, out)
    assert np.all(np.isfinite(out)) and out[0] == np.exp(-708.0) and out[2] == np.exp(709.0)
