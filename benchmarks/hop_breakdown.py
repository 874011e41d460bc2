"""Where one hop's time goes: the engine's per-hop steps timed one by one, beside the FFT floor.

Each step is one of the engine's own jitted functions (``cak_dsp.engine``, ``.normalization``,
``.residual``) run ``calls`` times in a jitted loop on one channel of a prepared engine, so no
Python call overhead is counted; the whole hop is ``_process`` fed one hop per call in the same
kind of loop, and the FFT pair (rocket-fft ``r2c`` + ``c2r`` of ``n_fft`` points, as the engine
calls them) is the floor a hop cannot go below. Used by ``engine_speed.py``; the loops compile
when first called (not cached, a few seconds).
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit
from rocket_fft import c2r, r2c

from cak_dsp import CakEngine, Preset
from cak_dsp import engine as eng
from cak_dsp.buffers import shift_rows
from cak_dsp.normalization import bin_gains, normalize_frame
from cak_dsp.residual import apply_residual

_LOOP = {"nogil": True, "error_model": "numpy"}


@njit(**_LOOP)
def _fft_pair(frame, spec, axes, calls):
    n = frame.shape[0]
    for _ in range(calls):
        r2c(frame, spec, axes, True, 1.0, 1)
        c2r(spec, frame, axes, False, 1.0 / n, 1)


@njit(**_LOOP)
def _analysis(in_buf, window, frame, spec_ring, mag_ring, norm_ring, axes, fp, calls):
    for _ in range(calls):
        eng._analyze(in_buf, 0, 0, window, frame, spec_ring, mag_ring, norm_ring, axes, fp)


@njit(**_LOOP)
def _normalization(mags, out, fp, calls):
    for _ in range(calls):
        normalize_frame(mags, out, fp[0], fp[1], fp[2], fp[3], fp[4])


@njit(**_LOOP)
def _residual(prev, cur, nxt, weight, bias, gain, out, calls):
    for _ in range(calls):
        apply_residual(prev, cur, nxt, weight, bias, gain, out)


@njit(**_LOOP)
def _gains(values, kernel_out, mags, fp, mode, calls):
    for _ in range(calls):
        values[:] = kernel_out
        bin_gains(values, mags, fp[0], fp[1], fp[2], fp[3], fp[4], fp[9], fp[10], mode)


@njit(**_LOOP)
def _synthesis(gain, blend, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame, windows, out_acc,
               wss_acc, axes, ip, fp, fst, calls):
    for _ in range(calls):
        eng._synthesize(1, gain, blend, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                        windows[1], windows[2], out_acc, wss_acc, axes, ip, fp, fst)


@njit(**_LOOP)
def _emit_shift(out_acc, wss_acc, fifo, ist, ip, calls):
    for _ in range(calls):
        ist[3] = 0
        ist[4] = 0
        eng._emit(ip[4], ip[1], out_acc, wss_acc, fifo, ist)
        shift_rows(out_acc, ip[1], ip[4])
        shift_rows(wss_acc.reshape((1, wss_acc.shape[0])), ip[1], ip[4])


@njit(**_LOOP)
def _whole_hops(blocks, y, controls, in_buf, spec_ring, mag_ring, norm_ring, gains, yspec, frame, windows,
                out_acc, wss_acc, fifo, axes, weight, ist, ip, fp, fst):
    for b in range(blocks.shape[0]):
        eng._process(blocks[b], y, controls, 0, in_buf, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                     windows, out_acc, wss_acc, fifo, axes, weight, ist, ip, fp, fst)


def hop_breakdown(preset: Preset, audio: np.ndarray, sample_rate: int, texture: float, mode: str = "gain",
                  calls: int = 300, repeats: int = 25) -> dict[str, float]:
    """Microseconds per hop for one channel: each step's best over ``repeats`` runs of ``calls``
    (the whole hop: ``6 * repeats`` runs of 50 hops).

    ``audio`` (one channel, float32) fills the engine's rings with real frames, so the per-bin
    steps see real spectra, and feeds the whole-hop loop, which runs on an engine of its own
    (the steps write into their engine's buffers). The steps run round-robin.
    """
    engines = []
    for _ in range(2):
        engine = CakEngine(preset, mode=mode)
        engine.texture = texture
        engine.prepare(sample_rate, max_block=1 << 12, channels=1)
        hop = engine.geometry.hop
        mono = np.ascontiguousarray(audio[None, : (audio.shape[-1] // hop) * hop], np.float32)
        engine.process_automated(mono[:, : 64 * hop], np.full(64 * hop, texture))
        engines.append(engine)
    engine, stream = engines
    (in_buf, spec_ring, mag_ring, norm_ring, gains, yspec, frame, windows, out_acc, wss_acc, fifo, axes,
     weight, ist, ip, fp, fst) = engine._state
    from cak_dsp.residual import gate_blend, residual_gain

    gain = residual_gain(texture, fp[eng._SCALE], fp[eng._TAU], fp[eng._TEMP])
    blend = gate_blend(texture, fp[eng._TAU], fp[eng._TEMP])
    kernel_out = norm_ring[0, 1].copy()
    scratch_spec = spec_ring[0, 0].copy()
    scratch_frame = frame.copy()
    values = np.empty_like(kernel_out)
    residual_out = np.empty_like(kernel_out)
    scratch_norm = np.empty_like(kernel_out)
    mode_code = int(ip[eng._MODE])
    blocks = mono[0, : (mono.shape[1] // hop) * hop].reshape(-1, 1, hop)
    y = np.empty((1, hop), np.float32)
    control = np.array([texture])

    def whole(n: int) -> None:
        for start in range(0, n, blocks.shape[0]):
            _whole_hops(blocks[: min(blocks.shape[0], n - start)], y, control, *stream._state)

    steps = {
        "FFT pair (r2c + c2r, the floor)": lambda n: _fft_pair(scratch_frame, scratch_spec, axes, n),
        "analysis: window, r2c, magnitude, normalization": lambda n: _analysis(
            in_buf, windows[0], frame, spec_ring, mag_ring, norm_ring, axes, fp, n),
        "  of which normalization": lambda n: _normalization(mag_ring[0, 0], scratch_norm, fp, n),
        "synthesis: conv, gain, apply, c2r, overlap-add": lambda n: _synthesis(
            gain, blend, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame, windows, out_acc, wss_acc,
            axes, ip, fp, fst, n),
        "  of which 3x3 conv (residual)": lambda n: _residual(
            norm_ring[0, 0], norm_ring[0, 1], norm_ring[0, 2], weight, fp[eng._BIAS], gain, residual_out, n),
        "  of which gain (denormalization)": lambda n: _gains(values, kernel_out, mag_ring[0, 1], fp, mode_code, n),
        "emit and shift (output FIFO, accumulators)": lambda n: _emit_shift(out_acc, wss_acc, fifo, ist, ip, n),
        "whole hop (_process, one hop per call)": whole,
    }
    for run in steps.values():  # compile and warm
        run(4)
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(repeats):  # round-robin, so a busy moment of a shared machine hits every step alike
        for name, run in steps.items():
            whole = name.startswith("whole")
            calls_now = 50 if whole else calls
            for _ in range(6 if whole else 1):
                t0 = time.perf_counter()
                run(calls_now)
                best[name] = min(best[name], (time.perf_counter() - t0) / calls_now * 1e6)
    return best
