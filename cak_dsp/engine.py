"""The streaming CAK engine: a sample-accurate STFT with one trained hop of look-ahead.

It speaks JUCE's ``AudioProcessor`` language::

    engine = CakEngine(load_preset("presets/drums.json"))   # geometry="low-latency" for 14.5 ms
    engine.prepare(sample_rate=48000, max_block=256, channels=2)
    engine.texture = 0.8                 # any thread, any time; read once per frame
    out = engine.process(block)          # block: float32 (channels, n), 1 <= n <= max_block
    engine.latency_samples               # exact, independent of the block size
    engine.reset()                       # back to silence, same configuration

How it works. The frame layout comes from a :class:`~cak_dsp.geometry.FrameGeometry`
(``geometry="standard"`` or ``"low-latency"``). Input samples enter an ``n_fft`` analysis
buffer that starts with ``preroll`` zeros (``n_fft / 2`` in the standard geometry: centre
padding, as librosa and torch do). Every ``hop`` samples a frame is windowed, transformed and
normalized into a ring of ``2 * tap_frames + 1`` frames; the kernel's time taps read the frames
``tap_frames`` before and after (one frame in the standard geometry, eight 64-sample frames in
the low-latency one: one trained hop either way). Because the kernel reads ahead, frame ``t``
is processed when frame ``t + lookahead`` arrives: its 3x3 residual is applied, the magnitude is
de-normalized, the input's phase is put back, and the inverse FFT is overlap-added with the
synthesis window (over its non-zero part only). The overlap-add also accumulates the window
products, and every finished sample is divided by that sum, so reconstruction is exact wherever
frames exist (including the first and last frames of a file). Finished samples go through a
FIFO that is primed with ``latency_samples`` zeros, so output sample ``n`` is input sample
``n - latency_samples`` processed, whatever the block sizes.

What a frame becomes. The kernel's result is turned into per-bin gains ``g[k, t]`` on the
input's own bins (``mode="gain"``, the default; see :mod:`cak_dsp.normalization`), the
engine's product, readable as :attr:`CakEngine.frame_gains`. ``mode="reference"`` replaces the
magnitude by the published one instead.

Level. The published effect adds 7-19 dB; level handling comes after the engine
(:mod:`cak_dsp.level`). The engine sums each frame's input, output and published-output
spectral energy (:attr:`CakEngine.energies`), which the whole-file level match uses.

Texture. ``c`` is read once per frame, at the sample where the frame is processed. Each frame's
gain is then spread over the synthesis window, so a jump in ``c`` becomes a raised-cosine
transition of about ``n_fft`` samples (46 ms at 44.1 kHz) in the standard geometry and of
``2 * hop`` (2.9 ms) in the low-latency one, with no click; no further smoothing is applied. ``texture`` is stored in a one-element float64 array
that the jitted code reads with a single aligned load, so setting it from a MIDI or UI thread
needs no lock.

Robustness. NaN or infinite input samples are replaced by silence and finite ones are clamped
to +/-``SAMPLE_LIMIT`` before they enter the engine, so a burst of garbage leaves no trace once
it has left the analysis window; output samples are clamped to the same limit, and any the
engine computed as NaN or infinite are silenced and counted (:attr:`CakEngine.nonfinite_samples`).
Blocks, ``out`` arrays and ``prepare``'s arguments are checked before the jitted code runs
(:mod:`cak_dsp.arrays`), which indexes without bounds checks.

All per-sample and per-frame work runs in Numba (``cache=True``: compiled once, then loaded
from disk); ``prepare`` compiles and warms it, and ``process`` allocates nothing when given
an ``out`` array.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit
from .fft import c2r, r2c

from . import arrays
from .buffers import shift_rows
from .geometry import GEOMETRIES, FrameGeometry, make_geometry
from .normalization import DEFAULT_MODE, REFERENCE, check_mode, frame_gains, inverse_value, normalize_frame
from .preset import Preset
from .residual import gate_blend, residual_gain
from .texture import TEXTURE_RANGE, check_texture, check_texture_curve  # noqa: F401 (TEXTURE_RANGE: also cak_dsp.engine's)

SAMPLE_LIMIT = 1.0e4
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "reassoc"}}

# integer state slots (_BAD: non-finite output samples silenced; kept across resets)
_FILL, _ANALYZED, _READ, _WRITE, _SKIP, _FED, _BAD = range(7)
# integer parameter slots
_N, _HOP, _PREROLL, _LOOKAHEAD, _LEAD, _MODE, _TAPS, _RING = range(8)
# float parameter slots
_ALPHA, _LOW, _HIGH, _GAMMA, _MAGSCALE, _BIAS, _SCALE, _TAU, _TEMP, _FLOOR, _CEIL = range(11)
# float state slots: the energies of every frame since the last reset: input, output, and
# output as the published path makes it
_E_IN, _E_OUT, _E_PUB = range(3)


@njit(**_JIT)
def _sanitize(v: float) -> float:
    """NaN and +/-Inf become 0; finite values are clamped to +/-SAMPLE_LIMIT (branch-free, so
    loops over samples vectorize)."""
    return min(max(v, -SAMPLE_LIMIT), SAMPLE_LIMIT) if abs(v) < math.inf else 0.0


@njit(**_JIT)
def _multiply_add(acc, x, w):
    """``acc += x * w`` over 1-D views (row views let LLVM prove the loop vectorizes)."""
    for i in range(acc.shape[0]):
        acc[i] += x[i] * w[i]


@njit(**_JIT)
def _add(acc, x):
    """``acc += x`` over 1-D views."""
    for i in range(acc.shape[0]):
        acc[i] += x[i]


@njit(**_JIT)
def _analyze(in_buf, ch, slot, window, frame, spec_ring, mag_ring, norm_ring, axes, fp):
    """Window, FFT and normalize the current analysis buffer of one channel into ring ``slot``."""
    row = in_buf[ch]
    for i in range(window.shape[0]):
        frame[i] = row[i] * window[i]
    spec = spec_ring[ch, slot]
    r2c(frame, spec, axes, True, 1.0, 1)
    mags = mag_ring[ch, slot]
    for k in range(spec.shape[0]):  # the square root in float32, the magnitudes' type: 8 lanes
        re = spec[k].real
        im = spec[k].imag
        mags[k] = np.sqrt(np.float32(re * re + im * im))
    normalize_frame(mags, norm_ring[ch, slot], fp[_ALPHA], fp[_LOW], fp[_HIGH], fp[_GAMMA], fp[_MAGSCALE])


@njit(**_JIT)
def _settled_frames(ip):
    """Frames after which the window-product sum ``wss_acc`` no longer changes.

    Every position of the sum receives the same products in the same order once a frame's
    whole overlap exists, so after adding frame ``_settled_frames - 1`` the buffer is final
    to the bit: later frames neither add to it nor shift it (the adds would put back exactly
    what the shift takes away), and only the end of the stream shifts it once more.
    """
    return ip[_N] // ip[_HOP] + 1


@njit(**_JIT)
def _synthesize(t, gain, blend, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                synth_window, product_window, out_acc, wss_acc, axes, ip, fp, fst):
    """Turn frame ``t`` of every channel into per-bin gains, apply them and overlap-add.

    ``gains[ch]`` holds the frame's per-bin gains ``g[k, t]`` afterwards. The published-output
    energy is counted as the output's plus ``blend`` (0 at c = 0) times the difference the
    published spectral ceiling makes, so at c = 0 it is the output's own.
    """
    ring, taps, lead, mode = ip[_RING], ip[_TAPS], ip[_LEAD], ip[_MODE]
    prev_slot = (t + ring - taps) % ring
    cur_slot = t % ring
    next_slot = (t + taps) % ring
    n = synth_window.shape[0]
    energy_in = 0.0
    energy_out = 0.0
    energy_pub = 0.0
    lo = fp[_FLOOR] / fp[_MAGSCALE]
    hi = fp[_CEIL] / fp[_MAGSCALE]
    for ch in range(out_acc.shape[0]):
        g = gains[ch]
        spec = spec_ring[ch, cur_slot]
        mags = mag_ring[ch, cur_slot]
        ys = yspec[ch]
        frame_gains(norm_ring[ch, prev_slot], norm_ring[ch, cur_slot], norm_ring[ch, next_slot], weight,
                    fp[_BIAS], gain, mags, fp[_ALPHA], fp[_LOW], fp[_HIGH], fp[_GAMMA], fp[_MAGSCALE],
                    fp[_FLOOR], fp[_CEIL], mode, g)
        if mode == REFERENCE:
            for k in range(spec.shape[0]):
                re = spec[k].real
                im = spec[k].imag
                power = re * re + im * im
                gk = g[k]
                energy_in += power
                energy_out += gk * gk * power
                ys[k] = spec[k] * gk if mags[k] > 0.0 else complex(gk, 0.0)
        else:
            for k in range(spec.shape[0]):
                re = spec[k].real
                im = spec[k].imag
                power = re * re + im * im
                gk = g[k]
                energy_in += power
                energy_out += gk * gk * power
                published = gk * min(max(mags[k], lo), hi)
                energy_pub += published * published
                gk = gk if mags[k] > 0.0 else 0.0
                ys[k] = complex(re * gk, im * gk)
    fst[_E_IN] += energy_in
    fst[_E_OUT] += energy_out
    fst[_E_PUB] += energy_out if mode == REFERENCE else energy_out + blend * (energy_pub - energy_out)
    for ch in range(out_acc.shape[0]):
        c2r(yspec[ch], frame, axes, False, 1.0 / n, 1)
        _multiply_add(out_acc[ch, lead:], frame[lead:], synth_window[lead:])
    if t < _settled_frames(ip):
        _add(wss_acc[lead:], product_window[lead:])


@njit(**_JIT)
def _emit(start, count, out_acc, wss_acc, fifo, ist):
    """Move ``count`` finished samples from ``out_acc[start:]`` into the output FIFO, in runs that
    do not wrap (each a plain loop over samples)."""
    cap = fifo.shape[1]
    skip = min(ist[_SKIP], count)
    ist[_SKIP] -= skip
    j = start + skip
    end = start + count
    pos = ist[_WRITE]
    while j < end:
        run = min(end - j, cap - pos)
        for ch in range(out_acc.shape[0]):
            src = out_acc[ch, j:j + run]
            dst = fifo[ch, pos:pos + run]
            wss = wss_acc[j:j + run]
            bad = 0
            for i in range(run):
                w = wss[i]
                v = src[i] * (1.0 / w if w > 1e-10 else 0.0)
                bad += 0 if abs(v) < math.inf else 1
                dst[i] = _sanitize(v)
            ist[_BAD] += bad
        j += run
        pos = pos + run if pos + run < cap else 0
    ist[_WRITE] = pos


@njit(**_JIT)
def _process_frame(t, texture, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                   windows, out_acc, wss_acc, fifo, axes, ist, ip, fp, fst):
    """Synthesize frame ``t``, emit the hop of samples it finishes, advance the accumulators."""
    gain = residual_gain(texture, fp[_SCALE], fp[_TAU], fp[_TEMP])
    blend = gate_blend(texture, fp[_TAU], fp[_TEMP])
    _synthesize(t, gain, blend, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                windows[1], windows[2], out_acc, wss_acc, axes, ip, fp, fst)
    hop, lead = ip[_HOP], ip[_LEAD]
    _emit(lead, hop, out_acc, wss_acc, fifo, ist)
    shift_rows(out_acc, hop, lead)
    if t < _settled_frames(ip) - 1:
        shift_rows(wss_acc.reshape((1, wss_acc.shape[0])), hop, lead)


@njit(**_JIT)
def _process(x, y, controls, control_stride, in_buf, spec_ring, mag_ring, norm_ring, gains, yspec,
             frame, windows, out_acc, wss_acc, fifo, axes, weight, ist, ip, fp, fst):
    """Run ``x`` (channels, n) through the engine into ``y``; ``x`` and ``y`` may be the same array.

    ``controls[i * control_stride]`` is the texture in force at sample ``i`` (stride 0: one
    value for the block).
    """
    n_fft = ip[_N]
    hop = ip[_HOP]
    lookahead = ip[_LOOKAHEAD]
    channels = in_buf.shape[0]
    cap = fifo.shape[1]
    n = x.shape[1]
    fill = ist[_FILL]
    read = ist[_READ]
    i = 0
    while i < n:
        run = min(n - i, n_fft - fill)
        for ch in range(channels):
            for j in range(run):
                in_buf[ch, fill + j] = _sanitize(np.float64(x[ch, i + j]))
        fill += run
        if fill == n_fft:
            t_new = ist[_ANALYZED]
            slot = t_new % ip[_RING]
            for ch in range(channels):
                _analyze(in_buf, ch, slot, windows[0], frame, spec_ring, mag_ring, norm_ring, axes, fp)
            shift_rows(in_buf, hop, 0)
            fill = n_fft - hop
            ist[_ANALYZED] = t_new + 1
            if t_new - lookahead >= 0:
                texture = controls[(i + run - 1) * control_stride]
                _process_frame(t_new - lookahead, texture, weight, spec_ring, mag_ring, norm_ring,
                               gains, yspec, frame, windows, out_acc, wss_acc, fifo, axes, ist, ip, fp, fst)
        j = i
        while j < i + run:
            part = min(i + run - j, cap - read)
            for ch in range(channels):
                for q in range(part):
                    y[ch, j + q] = fifo[ch, read + q]
            j += part
            read = read + part if read + part < cap else 0
        i += run
    ist[_FILL] = fill
    ist[_READ] = read
    ist[_FED] += n


@njit(**_JIT)
def _finish(texture, spec_ring, mag_ring, norm_ring, gains, yspec, frame, windows, out_acc, wss_acc,
            fifo, axes, weight, ist, ip, fp, fst):
    """End of stream: process the pending frames with a zero-padded future (as the published
    ``conv2d`` pads), flush the accumulators."""
    lookahead, taps, ring = ip[_LOOKAHEAD], ip[_TAPS], ip[_RING]
    last = ist[_ANALYZED] - 1
    for t in range(max(last - lookahead + 1, 0), last + 1):
        future = (t + taps) % ring
        for ch in range(norm_ring.shape[0]):
            norm_ring[ch, future, :] = 0.0
        _process_frame(t, texture, weight, spec_ring, mag_ring, norm_ring, gains, yspec, frame,
                       windows, out_acc, wss_acc, fifo, axes, ist, ip, fp, fst)
    lead = ip[_LEAD]
    if last >= _settled_frames(ip) - 1:  # the settled sum is held as added; the drain reads it shifted
        shift_rows(wss_acc.reshape((1, wss_acc.shape[0])), ip[_HOP], lead)
    _emit(lead, ip[_N] - ip[_HOP] - lead, out_acc, wss_acc, fifo, ist)


class CakEngine:
    """Streaming CAK processor: ``prepare``, ``process``, ``reset``, ``latency_samples``.

    ``mode`` is ``"gain"`` (default: the published effect as a per-bin gain on the input,
    identity at c = 0) or ``"reference"`` (the published inference math exactly); see
    :mod:`cak_dsp.normalization`. ``geometry`` is ``"standard"``
    (default: the published frames, 58 ms at 44.1 kHz) or ``"low-latency"``; see
    :mod:`cak_dsp.geometry`.
    """

    def __init__(self, preset: Preset, mode: str = DEFAULT_MODE, geometry: str = "standard") -> None:
        check_mode(mode)
        if geometry not in GEOMETRIES:
            raise ValueError(f"unknown geometry {geometry!r}; choose one of: {', '.join(GEOMETRIES)}")
        self.preset = preset
        self.mode = mode
        self.geometry_name = geometry
        self._control = np.zeros(1)
        self._geometry: FrameGeometry | None = None

    # -- configuration -------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int, warm: bool = True) -> None:
        """Allocate every buffer for this configuration, compile and warm the jitted code.

        Each argument is a whole number within its range (:func:`cak_dsp.arrays.check_prepare`).
        ``warm=False`` is for offline rendering only: the jitted code is compiled or loaded
        from the disk cache on first use, for the array layouts actually used, instead of for
        every layout a host may hand over (a few tenths of a second less start-up)."""
        sample_rate, max_block, channels = arrays.check_prepare(sample_rate, max_block, channels)
        geo = make_geometry(self.geometry_name, self.preset, sample_rate)
        n, bins, ring = geo.n_fft, geo.n_bins, geo.ring
        self._geometry = geo
        self.max_block = int(max_block)
        self.channels = int(channels)
        self._windows = np.ascontiguousarray(np.stack([
            geo.analysis_window, geo.synthesis_window, geo.analysis_window * geo.synthesis_window]))
        self._in_buf = np.zeros((channels, n))
        self._spec_ring = np.zeros((channels, ring, bins), np.complex128)
        self._mag_ring = np.zeros((channels, ring, bins), np.float32)
        self._norm_ring = np.zeros((channels, ring, bins), np.float32)
        self._gains = np.zeros((channels, bins), np.float32)
        self._yspec = np.zeros((channels, bins), np.complex128)
        self._frame = np.zeros(n)
        self._out_acc = np.zeros((channels, n))
        self._wss_acc = np.zeros(n)
        self._fifo = np.zeros((channels, geo.latency_samples + n + geo.hop + 1))
        self._axes = np.zeros(1, np.int64)
        self._ist = np.zeros(7, np.int64)
        self._ip = np.array([n, geo.hop, geo.preroll, geo.lookahead, geo.synthesis_lead, check_mode(self.mode),
                             geo.tap_frames, ring], np.int64)
        p = self.preset
        norm = (p.alpha, p.global_low, p.global_high, p.gamma)
        self._fp = np.array([*norm, geo.magnitude_scale, p.bias, p.scale, p.threshold, p.temperature,
                             inverse_value(0.0, *norm), inverse_value(1.0, *norm)])
        self._fst = np.zeros(3)
        self._weight = np.ascontiguousarray(p.weight, dtype=np.float64)
        self._out = np.zeros((channels, self.max_block), np.float32)
        self._state = (self._in_buf, self._spec_ring, self._mag_ring, self._norm_ring, self._gains, self._yspec,
                       self._frame, self._windows, self._out_acc, self._wss_acc, self._fifo, self._axes,
                       self._weight, self._ist, self._ip, self._fp, self._fst)
        if warm:
            self._warm()
        self.reset()

    def reset(self) -> None:
        """Clear all audio state (as after ``prepare``); texture and configuration are kept."""
        geo = self._require_prepared()
        for buf in (self._in_buf, self._spec_ring, self._mag_ring, self._norm_ring, self._out_acc,
                    self._wss_acc, self._fifo, self._gains, self._fst):
            buf.fill(0)
        self._ist[:_BAD] = 0
        self._ist[_FILL] = geo.preroll
        self._ist[_WRITE] = geo.latency_samples
        self._ist[_SKIP] = geo.preroll - geo.synthesis_lead

    def _warm(self) -> None:
        """Compile (or load from the disk cache) every array layout a host may hand us."""
        contiguous = np.zeros((self.channels, min(self.max_block, 64)), np.float32)
        interleaved = np.zeros((contiguous.shape[1], self.channels), np.float32).T
        strided = np.zeros((self.channels, 2 * contiguous.shape[1]), np.float32)[:, ::2]
        controls = np.zeros(contiguous.shape[1])
        for block in (contiguous, interleaved, strided):
            _process(block, self._out[:, :block.shape[1]], self._control, 0, *self._state)
            _process(block, block, controls, 1, *self._state)
        self._finish()

    # -- properties ---------------------------------------------------------------------
    @property
    def geometry(self) -> FrameGeometry:
        """The frame geometry in use (after ``prepare``)."""
        return self._require_prepared()

    @property
    def energies(self) -> tuple[float, float, float]:
        """Spectral energies of every frame since the last reset: the input's, the output's
        and the output's as the published path makes it (bins above the
        spectral ceiling flattened to it; the same as the output's in reference mode)."""
        self._require_prepared()
        return float(self._fst[_E_IN]), float(self._fst[_E_OUT]), float(self._fst[_E_PUB])

    @property
    def frame_gains(self) -> np.ndarray:
        """The per-bin gains ``g[k, t]`` (channels, bins), float32, of the frame synthesized
        last: the engine's product. Read-only view; the next frame overwrites it."""
        self._require_prepared()
        view = self._gains.view()
        view.flags.writeable = False
        return view

    @property
    def nonfinite_samples(self) -> int:
        """Output samples the engine computed as NaN or infinite (e.g. from a preset whose
        numbers overflow) and silenced, since ``prepare`` (``reset`` keeps the count)."""
        self._require_prepared()
        return int(self._ist[_BAD])

    @property
    def latency_samples(self) -> int:
        """Exact delay from input to output in samples: ``n_fft - 1 - s0 + lookahead * hop``."""
        return self._require_prepared().latency_samples

    @property
    def texture(self) -> float:
        """The texture ``c``; takes effect at the next frame. Safe to set from any thread."""
        return float(self._control[0])

    @texture.setter
    def texture(self, value: float) -> None:
        self._control[0] = check_texture(value)

    # -- processing ---------------------------------------------------------------------
    def process(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Process one block of float32 audio shaped (channels, n) with 1 <= n <= max_block.

        Returns ``out`` (which may be ``block`` itself, for in-place processing) or, if none is
        given, a view of an internal buffer that the next call overwrites. Other sample types
        are converted and wrong shapes refused as :mod:`cak_dsp.arrays` says; ``out`` must be
        float32 and shaped like the block.
        """
        self._require_prepared()
        block = arrays.block(block, self.channels, self.max_block)
        out = self._out[:, :block.shape[1]] if out is None else arrays.out_block(out, block.shape)
        _process(block, out, self._control, 0, *self._state)
        return out

    def process_automated(self, block: np.ndarray, texture: np.ndarray) -> np.ndarray:
        """Process a block of any length with a per-sample texture curve (offline automation).

        Each frame uses ``texture[i]`` at the sample ``i`` where it is processed, exactly as if
        the knob had been set to that value before that sample in a live stream.
        """
        self._require_prepared()
        block = arrays.block(block, self.channels, None)
        controls = np.ascontiguousarray(check_texture_curve(texture, "texture curve"))
        if controls.shape != (block.shape[1],):
            raise ValueError(f"texture must have one value per sample of the block ({block.shape[1]}), "
                             f"got shape {controls.shape}")
        out = np.empty((self.channels, block.shape[1]), np.float32)
        _process(block, out, controls, 1, *self._state)
        return out

    def flush(self) -> np.ndarray:
        """End the stream: return every output sample still inside the engine.

        The input is taken to end after the last sample given to ``process``: frames are
        computed up to the last one centred at or before that point (as a centre-padded STFT
        does), the last frame sees silence as its future, and the overlap-add is drained.
        ``concatenate(outputs + [flush()])[latency : latency + n_in]`` is the whole signal,
        aligned. Call ``reset`` before reusing the engine.
        """
        geo = self._require_prepared()
        last_needed = geo.last_frame(int(self._ist[_FED]))
        frames_to_go = last_needed + 1 - int(self._ist[_ANALYZED])
        zeros_needed = 0
        if frames_to_go > 0:
            zeros_needed = geo.n_fft - int(self._ist[_FILL]) + (frames_to_go - 1) * geo.hop
        fed = int(self._ist[_FED])
        tail = np.zeros((self.channels, zeros_needed), np.float32)
        if zeros_needed:
            _process(tail, tail, self._control, 0, *self._state)
        self._ist[_FED] = fed
        self._finish()
        pending = (int(self._ist[_WRITE]) - int(self._ist[_READ])) % self._fifo.shape[1]
        index = (int(self._ist[_READ]) + np.arange(pending)) % self._fifo.shape[1]
        self._ist[_READ] = self._ist[_WRITE]
        return np.concatenate([tail, self._fifo[:, index].astype(np.float32)], axis=1)

    # -- internals ----------------------------------------------------------------------
    def _finish(self) -> None:
        _finish(self._control[0], *self._state[1:])

    def _require_prepared(self) -> FrameGeometry:
        if self._geometry is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before using the engine")
        return self._geometry
