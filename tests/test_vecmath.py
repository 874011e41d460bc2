"""The vectorizable exp/log agree with numpy to 1 ulp, sin/cos to 2 ulp (of 1), over the ranges
the engine uses."""
from __future__ import annotations

import numpy as np
from numba import njit

from cak_dsp.vecmath import JIT, TINY, TINY32, vexp, vexpf, vlog, vlogf, vsincos


@njit(**JIT)
def _log_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vlog(x[i])


@njit(**JIT)
def _exp_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vexp(x[i])


@njit(**JIT)
def _sincos_all(x: np.ndarray, s: np.ndarray, c: np.ndarray) -> None:
    for i in range(x.shape[0]):
        s[i], c[i] = vsincos(x[i])


@njit(**JIT)
def _logf_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vlogf(x[i])


@njit(**JIT)
def _expf_all(x: np.ndarray, out: np.ndarray) -> None:
    for i in range(x.shape[0]):
        out[i] = vexpf(x[i])


def _ulps32(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error in float32 ulps of the exact (float64) result, over normal float32 results."""
    normal = np.abs(want) >= np.finfo(np.float32).tiny * 2.0 ** 24
    spacing = np.spacing(np.abs(want[normal]).astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(got[normal].astype(np.float64) - want[normal]) / spacing))


def test_float32_log_and_exp_within_one_ulp() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([np.exp(rng.uniform(-85, 88, 200_000)), rng.uniform(0.5, 2.0, 100_000),
                        [TINY32, 1.0, 2.0, np.sqrt(2.0)]]).astype(np.float32)
    x = x[x != 1.0]
    out = np.empty_like(x)
    _logf_all(x, out)
    assert out.dtype == np.float32 and _ulps32(out, np.log(x.astype(np.float64))) <= 1.0
    x = np.concatenate([rng.uniform(-87, 88, 200_000), rng.uniform(-1e-3, 1e-3, 10_000), [0.0, 1.0, -1.0]]).astype(np.float32)
    out = np.empty_like(x)
    _expf_all(x, out)
    assert out.dtype == np.float32 and _ulps32(out, np.exp(x.astype(np.float64))) <= 1.0
    edges = np.array([-1e6, -np.inf, 1e6, np.inf], np.float32)
    out = np.empty_like(edges)
    _expf_all(edges, out)
    assert np.all(np.isfinite(out)) and out[0] > 0.0


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


def test_sincos_within_two_ulp_of_one() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-1e5, 1e5, 100_000), rng.uniform(-10.0, 10.0, 100_000),
                        np.arange(-8, 9) * np.pi / 4, [0.0, 1e-300, -1e-300]])
    s, c = np.empty_like(x), np.empty_like(x)
    _sincos_all(x, s, c)
    assert np.abs(s - np.sin(x)).max() <= 2 * np.spacing(1.0)
    assert np.abs(c - np.cos(x)).max() <= 2 * np.spacing(1.0)
    s0, c0 = np.empty(1), np.empty(1)
    _sincos_all(np.zeros(1), s0, c0)
    assert s0[0] == 0.0 and c0[0] == 1.0
