"""The filter-bank equalizer: the standard frames' per-bin gains applied as a low-delay filter.

The approach of Löllmann & Vary (Speech Communication 2007; EURASIP JASP 2009), built for
issue 13 and measured against the low-latency geometry (docs/latency.md, "The filter-bank
equalizer"); it is not that geometry: it keeps the standard sound on sustained material but
lags transients, so the low-latency path stays the asymmetric-window one (one low-latency path).
Use it as an engine (:class:`FilterBankEqualizer`, the processor contract) or as a CAK stage
(:class:`EqualizerStage`).

The analysis is the standard geometry's (2048-point periodic Hann frames, hop 512 at 44.1 kHz,
the kernel's taps one frame apart, the same normalization), so every frame gets exactly the
per-bin gains ``g[k, t]`` the standard engine computes (:attr:`FilterBankEqualizer.frame_gains`).
The audio does not go through those frames: each frame's gains become a minimum-phase FIR, and
the audio runs through it in a uniformly partitioned convolution of ``BLOCK`` samples (32). The
audio path's delay is one block, plus one trained hop of look-ahead for a kernel that reads the
next frame::

    latency = lookahead * hop + BLOCK - 1        # 543 samples (12.3 ms) at 44.1 kHz, 31 (0.7 ms) causal

The filter design, per frame and channel (:func:`_design_step`):

1. *Equivalent response.* A per-bin gain in an overlap-added STFT acts on a stationary signal as
   the gain convolved with the window's power spectrum ``|W|^2`` (:func:`response_table`): the
   target magnitude, so a sustained tone gets the gain the standard render gives it.
2. *Stable in weak bins* (:func:`_stable_log_gains`). A minimum-phase filter's phase at one
   frequency depends on the log-magnitude at all others, and the gains of bins far below their
   neighbours (a tone's skirt, the space between partials, near-silence) jump from frame to
   frame: that would phase-modulate every tone at the frame rate (sidebands 20-30 dB down). So
   each gain is first averaged with its neighbours' weighted by their power (``g P`` over ``P``
   with a kernel of 1 at the bin and ``TAIL_WEIGHT * exp(-|d| / TAIL_BINS)`` around it: bins of
   comparable power keep their own gain, a bin 40 dB below a neighbour takes the neighbour's),
   and the log-gain of bins more than ``SIGNIFICANCE_DB`` below the frame's loudest (input or
   output) is interpolated across them. A silent frame's filter is the identity.
3. *Minimum phase.* The log of that response (floored at ``FLOOR_DB``) on a ``design_size``-point
   grid (twice the filter length, so the cepstrum does not alias), folded cepstrum, ``exp``,
   inverse FFT, the first ``taps`` samples (the frame length rounded up to blocks) with a
   ``TAPER``-sample fade; then the partitions' spectra.

The design runs in ``STEPS`` steps, one per block boundary after the frame (every channel's at
once, so a channel's output does not depend on how many there are), so no callback carries a
whole frame's design. When it is done, the output crossfades linearly from the previous frame's
filter to the new one over ``fade`` samples (the hop rounded down to blocks): once per trained
hop. Before the first frame the filter is the identity. At ``c = 0`` every gain is 1 and every
filter is a unit impulse: the path is a pure delay.

What it costs in sound. A frame's gains exist only once the frame (and, for a look-ahead kernel,
the next one) has been heard, and the standard render spreads them over the whole frame, half
of it *before* the frame's centre. Here they start to take effect ``n_fft / 2`` samples after the
centre, plus the design's ``STEPS - 1`` blocks less half a block on average, and are fully in
``fade`` samples later: the effect lags the standard render's by about
``n_fft / 2 + (STEPS - 1.5) * BLOCK + fade / 2`` samples (1360, 31 ms at 44.1 kHz;
:attr:`EqualizerGeometry.lag_samples`). On sustained sounds
that changes nothing; on a transient the attack keeps the gains of the quieter frame before it
for that long.

Everything in ``process`` runs in Numba on buffers allocated in ``prepare``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from .fft import c2r, r2c

from . import arrays
from .cak_stage import Cak
from .buffers import shift_rows
from .engine import _analyze, _sanitize
from .geometry import standard_geometry
from .level import DEFAULT_LEVEL
from .normalization import DEFAULT_MODE, REFERENCE, check_mode, frame_gains, inverse_value
from .preset import Preset
from .residual import gate_blend, residual_gain
from .texture import check_texture, check_texture_curve
from .vecmath import TINY, vexp, vlog, vsincos

BLOCK = 32
TAIL_WEIGHT = 1e-3
TAIL_BINS = 8.0
SIGNIFICANCE_DB = 80.0
FLOOR_DB = -100.0
TAPER = 64
STEPS = 4
RESPONSE_TAPS = 16
IDENTITY_TOLERANCE = 1e-9  # |log-gain| below which a frame's filter is the unit impulse
IDENTITY = -1  # design marker in ``nparts`` until the last step

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "reassoc"}}

# integer parameter slots
_N, _HOP, _LOOKAHEAD, _MODE, _B, _P, _M, _TAPS, _FADE, _DELAY = range(10)
# integer state slots
(_FILL, _ANALYZED, _READ, _WRITE, _CFILL, _HEAD, _DPOS, _CUR, _OLD, _FADE_POS, _TARGET, _STEP,
 _FED) = range(13)
# float parameter slots
_ALPHA, _LOW, _HIGH, _GAMMA, _MAGSCALE, _BIAS, _SCALE, _TAU, _TEMP, _FLOOR, _CEIL = range(11)
# float state slots (as the standard engine's)
_E_IN, _E_OUT, _E_PUB = range(3)


@dataclass(frozen=True)
class EqualizerGeometry:
    """The equalizer's layout: the standard analysis frames and the filter's blocks.

    ``n_fft``, ``hop``, the window, ``preroll`` and ``magnitude_scale`` are the standard
    geometry's at ``sample_rate``; ``block`` is the convolution's partition size, ``taps`` the
    filter length, ``fade`` the crossfade between successive frames' filters, ``design_size`` the
    FFT size of the minimum-phase design.
    """

    sample_rate: int
    n_fft: int
    hop: int
    analysis_window: np.ndarray
    preroll: int
    lookahead: int
    magnitude_scale: float
    block: int = BLOCK
    tap_frames: int = 1

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def ring(self) -> int:
        """Normalized frames kept: the kernel reads frames ``t - 1``, ``t`` and ``t + 1``."""
        return 2 * self.tap_frames + 1

    @property
    def tap_spacing(self) -> int:
        """Samples between the frames the kernel's time taps read (one trained hop)."""
        return self.tap_frames * self.hop

    @property
    def partitions(self) -> int:
        return -(-self.n_fft // self.block)

    @property
    def taps(self) -> int:
        """Filter length: the frame length rounded up to whole blocks."""
        return self.partitions * self.block

    @property
    def design_size(self) -> int:
        """FFT size of the design: twice the filter length, so the minimum-phase response's
        tail does not wrap onto its start."""
        return 2 * self.taps

    @property
    def fade(self) -> int:
        """Crossfade length: the hop rounded down to whole blocks (at least one block)."""
        return max(self.hop // self.block, 1) * self.block

    @property
    def latency_samples(self) -> int:
        """Exact input-to-output delay: ``lookahead * hop + block - 1``."""
        return self.lookahead * self.hop + self.block - 1

    @property
    def lag_samples(self) -> int:
        """How far, on average, the effect lags the standard render's (see the module docstring)."""
        return self.n_fft // 2 + (STEPS - 1) * self.block - self.block // 2 + self.fade // 2

    def last_frame(self, n_samples: int) -> int:
        """Index of the last frame of a finite signal (as the standard geometry)."""
        return (n_samples + self.preroll - self.n_fft // 2) // self.hop


def equalizer_geometry(preset: Preset, sample_rate: int) -> EqualizerGeometry:
    """The equalizer's layout for ``preset`` at ``sample_rate``: look-ahead one hop unless causal."""
    std = standard_geometry(preset, sample_rate)
    return EqualizerGeometry(sample_rate=std.sample_rate, n_fft=std.n_fft, hop=std.hop,
                            analysis_window=std.analysis_window, preroll=std.preroll, lookahead=std.lookahead,
                            magnitude_scale=std.magnitude_scale)


# -- per-frame gains --------------------------------------------------------------------------
@njit(**_JIT)
def _frame_gains(t, texture, weight, spec_ring, mag_ring, norm_ring, gains, ip, fp, fst):
    """The per-bin gains of frame ``t`` of every channel into ``gains``, and the frame's energies
    (exactly as the standard engine's synthesis counts them)."""
    gain = residual_gain(texture, fp[_SCALE], fp[_TAU], fp[_TEMP])
    blend = gate_blend(texture, fp[_TAU], fp[_TEMP])
    ring = norm_ring.shape[1]
    prev_slot = (t + ring - 1) % ring
    cur_slot = t % ring
    next_slot = (t + 1) % ring
    mode = ip[_MODE]
    inv_scale = 1.0 / fp[_MAGSCALE]
    energy_in = 0.0
    energy_out = 0.0
    energy_pub = 0.0
    for ch in range(gains.shape[0]):
        g = gains[ch]
        mags = mag_ring[ch, cur_slot]
        frame_gains(norm_ring[ch, prev_slot], norm_ring[ch, cur_slot], norm_ring[ch, next_slot], weight,
                    fp[_BIAS], gain, mags, fp[_ALPHA], fp[_LOW], fp[_HIGH], fp[_GAMMA], fp[_MAGSCALE],
                    fp[_FLOOR], fp[_CEIL], mode, g)
        spec = spec_ring[ch, cur_slot]
        for k in range(g.shape[0]):
            power = spec[k].real * spec[k].real + spec[k].imag * spec[k].imag
            energy_in += power
            energy_out += g[k] * g[k] * power
            if mode != REFERENCE:
                published = g[k] * min(max(mags[k], fp[_FLOOR] * inv_scale), fp[_CEIL] * inv_scale)
                energy_pub += published * published
    fst[_E_IN] += energy_in
    fst[_E_OUT] += energy_out
    fst[_E_PUB] += energy_out if mode == REFERENCE else energy_out + blend * (energy_pub - energy_out)


# -- filter design ----------------------------------------------------------------------------
def response_table(n_fft: int, design_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation from per-bin gains to their equivalent response on the design grid.

    The response at grid point ``i`` (``i * n_fft / design_size`` bins) is
    ``sum_k g[k] |W(i n_fft / design_size - k)|^2`` over the ``RESPONSE_TAPS`` nearest bins, ``W``
    the periodic Hann window's spectrum, normalized so that equal gains give that gain (the
    window's power spectrum beyond them is more than 100 dB down). Returns, per grid point, the
    first of those bins (offset by ``RESPONSE_TAPS``, for a gain array padded with mirrored bins
    on both sides) and the weights, shaped (design_size // 2 + 1,) and (.., RESPONSE_TAPS).
    """
    half = design_size // 2 + 1
    centre = np.arange(half) * n_fft / design_size
    first = np.floor(centre).astype(np.int64) - RESPONSE_TAPS // 2 + 1
    d = centre[:, None] - (first[:, None] + np.arange(RESPONSE_TAPS)[None, :])

    def dirichlet(x: np.ndarray) -> np.ndarray:
        near = np.abs(np.sin(np.pi * x / n_fft)) < 1e-12
        safe = np.where(near, 1.0, np.sin(np.pi * x / n_fft))
        value = np.exp(-1j * np.pi * x * (n_fft - 1) / n_fft) * np.sin(np.pi * x) / safe
        return np.where(near, n_fft, value)

    spectrum = 0.5 * dirichlet(d) - 0.25 * dirichlet(d - 1) - 0.25 * dirichlet(d + 1)
    weights = np.abs(spectrum) ** 2
    weights /= weights.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(first + RESPONSE_TAPS), np.ascontiguousarray(weights)


@njit(**_JIT)
def _stable_log_gains(g, mags, out, fwd_n, fwd_d):
    """Step 2 of the design (module docstring): power-weighted neighbour averaging of the gains,
    then the log-gain, interpolated across bins more than SIGNIFICANCE_DB below the frame's
    loudest (input or output). ``out`` gets the log-gains, all 0 for a silent frame."""
    n = g.shape[0]
    decay = math.exp(-1.0 / TAIL_BINS)
    # one-pole sums of g P and P from below and from above: exponential tails, centre included
    acc_n = 0.0
    acc_d = 0.0
    for k in range(n):
        level = mags[k] * max(g[k], 1.0)
        power = level * level
        acc_n = decay * acc_n + g[k] * power
        acc_d = decay * acc_d + power
        fwd_n[k] = acc_n
        fwd_d[k] = acc_d
    acc_n = 0.0
    acc_d = 0.0
    top = 0.0
    for k in range(n - 1, -1, -1):
        level = mags[k] * max(g[k], 1.0)
        power = level * level
        acc_n = decay * acc_n + g[k] * power
        acc_d = decay * acc_d + power
        num = g[k] * power + TAIL_WEIGHT * (fwd_n[k] + acc_n - g[k] * power)
        den = power + TAIL_WEIGHT * (fwd_d[k] + acc_d - power)
        value = num / den if den > 0.0 else 1.0
        out[k] = value
        fwd_d[k] = mags[k] * max(value, 1.0)  # the bin's level from here on
        top = max(top, fwd_d[k])
    threshold = top * 10.0 ** (-SIGNIFICANCE_DB / 20.0)
    last = -1
    last_log = 0.0
    for k in range(n):
        if top > 0.0 and fwd_d[k] >= threshold and fwd_d[k] > 0.0:
            lg = vlog(max(out[k], TINY))
            if last < 0:
                for j in range(k):
                    out[j] = lg
            else:
                step = (lg - last_log) / (k - last)
                for j in range(last + 1, k):
                    out[j] = last_log + step * (j - last)
            out[k] = lg
            last = k
            last_log = lg
    for j in range(last + 1, n):
        out[j] = last_log if last >= 0 else 0.0


@njit(**_JIT)
def _design_step(step, ch, slot, gains, mags, logg, scratch, padded, table_index, table_weight, work_r, work_z, parts_r,
                 parts_z, filt_re, filt_im, nparts, axes, axes_rows, ip):
    """Design step ``step`` (0 .. STEPS - 1) of channel ``ch``'s filter into slot ``slot``."""
    m, taps, b = ip[_M], ip[_TAPS], ip[_B]
    half = m // 2 + 1
    wr = work_r[ch]
    wz = work_z[ch]
    parts = filt_re.shape[2]
    if step == 0:
        lg = logg[ch]
        _stable_log_gains(gains[ch], mags[ch], lg, scratch[0], scratch[1])
        identity = True
        for k in range(lg.shape[0]):
            identity = identity and abs(lg[k]) <= IDENTITY_TOLERANCE
        nparts[ch, slot] = IDENTITY if identity else parts  # written in the last step
    elif step == 1:
        if nparts[ch, slot] < 0:
            return
        # the equivalent response of the gains, padded with RESPONSE_TAPS mirrored bins at 0 Hz
        # and at Nyquist, and its real cepstrum
        lg = logg[ch]
        bins = lg.shape[0]
        lin = padded
        for k in range(bins):
            lin[RESPONSE_TAPS + k] = vexp(lg[k])
        for k in range(1, RESPONSE_TAPS + 1):
            lin[RESPONSE_TAPS - k] = lin[RESPONSE_TAPS + k]
            lin[RESPONSE_TAPS + bins - 1 + k] = lin[RESPONSE_TAPS + bins - 1 - k]
        floor = 10.0 ** (FLOOR_DB / 20.0)
        for i in range(half):
            first = table_index[i]
            acc = 0.0
            for j in range(RESPONSE_TAPS):
                acc += table_weight[i, j] * lin[first + j]
            wr[i] = acc
        for i in range(half):
            wr[i] = vlog(max(wr[i], floor))
        for i in range(half):
            wz[i] = wr[i]
        c2r(wz, wr, axes, False, 1.0 / m, 1)
    elif step == 2:
        if nparts[ch, slot] < 0:
            return
        # fold it (minimum phase) and go back to the log spectrum
        for i in range(1, m // 2):
            wr[i] *= 2.0
        for i in range(m // 2 + 1, m):
            wr[i] = 0.0
        r2c(wr, wz, axes, True, 1.0, 1)
        for k in range(half):
            s, c = vsincos(wz[k].imag)
            mag = vexp(wz[k].real)
            wz[k] = complex(mag * c, mag * s)
    else:
        fr = filt_re[ch, slot]
        fi = filt_im[ch, slot]
        if nparts[ch, slot] == IDENTITY:
            nparts[ch, slot] = 1
            for k in range(b + 1):
                fr[0, k] = 1.0
                fi[0, k] = 0.0
            return
        c2r(wz, wr, axes, False, 1.0 / m, 1)
        for i in range(TAPER):
            wr[taps - TAPER + i] *= 0.5 + 0.5 * math.cos(math.pi * (i + 1) / TAPER)
        for p in range(parts):
            for i in range(b):
                parts_r[p, i] = wr[p * b + i]
                parts_r[p, b + i] = 0.0
        r2c(parts_r, parts_z, axes_rows, True, 1.0, 1)
        for p in range(parts):
            for k in range(b + 1):
                fr[p, k] = parts_z[p, k].real
                fi[p, k] = parts_z[p, k].imag


# -- convolution ------------------------------------------------------------------------------
@njit(**_JIT)
def _accumulate(xr, xi, hr, hi, parts, head, ar, ai):
    """``a`` = sum over partitions of the input spectra times the filter's (UPOLS)."""
    count = xr.shape[0]
    bins = ar.shape[0]
    for k in range(bins):
        ar[k] = 0.0
        ai[k] = 0.0
    for p in range(parts):
        q = head - p
        if q < 0:
            q += count
        for k in range(bins):
            a = xr[q, k]
            c = xi[q, k]
            ar[k] += a * hr[p, k] - c * hi[p, k]
            ai[k] += a * hi[p, k] + c * hr[p, k]


@njit(**_JIT)
def _accumulate2(xr, xi, hr, hi, parts, hr2, hi2, parts2, head, ar, ai, br, bi):
    """:func:`_accumulate` for two filters in one pass over the input spectra."""
    if parts != parts2:
        _accumulate(xr, xi, hr, hi, parts, head, ar, ai)
        _accumulate(xr, xi, hr2, hi2, parts2, head, br, bi)
        return
    count = xr.shape[0]
    bins = ar.shape[0]
    for k in range(bins):
        ar[k] = 0.0
        ai[k] = 0.0
        br[k] = 0.0
        bi[k] = 0.0
    for p in range(parts):
        q = head - p
        if q < 0:
            q += count
        for k in range(bins):
            a = xr[q, k]
            c = xi[q, k]
            ar[k] += a * hr[p, k] - c * hi[p, k]
            ai[k] += a * hi[p, k] + c * hr[p, k]
            br[k] += a * hr2[p, k] - c * hi2[p, k]
            bi[k] += a * hi2[p, k] + c * hr2[p, k]


@njit(**_JIT)
def _conv_block(cbuf, fdl_re, fdl_im, filt_re, filt_im, nparts, part_z, acc_r, acc_z, yb, fifo, axes, ist, ip):
    """Filter the block in ``cbuf[:, B:]`` of every channel (crossfading while a fade runs) and
    push it to the output FIFO."""
    b, fade = ip[_B], ip[_FADE]
    channels = cbuf.shape[0]
    head = (ist[_HEAD] + 1) % fdl_re.shape[1]
    ist[_HEAD] = head
    cur, old, pos = ist[_CUR], ist[_OLD], ist[_FADE_POS]
    cap = fifo.shape[1]
    for ch in range(channels):
        r2c(cbuf[ch], part_z, axes, True, 1.0, 1)
        for k in range(b + 1):
            fdl_re[ch, head, k] = part_z[k].real
            fdl_im[ch, head, k] = part_z[k].imag
        if pos >= 0:
            _accumulate2(fdl_re[ch], fdl_im[ch], filt_re[ch, cur], filt_im[ch, cur], nparts[ch, cur],
                         filt_re[ch, old], filt_im[ch, old], nparts[ch, old], head, acc_r[0], acc_r[1], acc_r[2],
                         acc_r[3])
        else:
            _accumulate(fdl_re[ch], fdl_im[ch], filt_re[ch, cur], filt_im[ch, cur], nparts[ch, cur], head,
                        acc_r[0], acc_r[1])
        for f in range(2 if pos >= 0 else 1):
            for k in range(b + 1):
                acc_z[k] = complex(acc_r[2 * f, k], acc_r[2 * f + 1, k])
            c2r(acc_z, yb[f], axes, False, 1.0 / (2 * b), 1)
        w = ist[_WRITE]
        for i in range(b):
            v = yb[0, b + i]
            if pos >= 0:
                mix = min((pos + i + 1) / fade, 1.0)
                v = yb[1, b + i] + mix * (v - yb[1, b + i])
            fifo[ch, w] = _sanitize(v)
            w = w + 1 if w + 1 < cap else 0
        for i in range(b):
            cbuf[ch, i] = cbuf[ch, b + i]
    ist[_WRITE] = (ist[_WRITE] + b) % cap
    if pos >= 0:
        pos += b
        ist[_FADE_POS] = pos if pos < fade else -1


# -- the stream -------------------------------------------------------------------------------
@njit(**_JIT)
def _process(x, y, controls, stride, in_buf, spec_ring, mag_ring, norm_ring, gains, frame, window, delay, cbuf,
             fdl_re, fdl_im, filt_re, filt_im, nparts, parts_r, parts_z, part_z, acc_r, acc_z, yb, fifo, logg,
             scratch, padded, table_index, table_weight, work_r, work_z, axes, axes_rows, weight, ist, ip, fp, fst):
    """Run ``x`` (channels, n) through the equalizer into ``y`` (may be ``x``)."""
    n_fft, hop, lookahead, b = ip[_N], ip[_HOP], ip[_LOOKAHEAD], ip[_B]
    dlen = ip[_DELAY]
    channels = in_buf.shape[0]
    cap = fifo.shape[1]
    n = x.shape[1]
    ring = norm_ring.shape[1]
    fill, cfill, read, dpos = ist[_FILL], ist[_CFILL], ist[_READ], ist[_DPOS]
    i = 0
    while i < n:
        run = min(n - i, n_fft - fill, b - cfill)
        for ch in range(channels):
            p = dpos
            for j in range(run):
                v = _sanitize(np.float64(x[ch, i + j]))
                in_buf[ch, fill + j] = v
                if dlen > 0:
                    d = delay[ch, p]
                    delay[ch, p] = v
                    p = p + 1 if p + 1 < dlen else 0
                    v = d
                cbuf[ch, b + cfill + j] = v
        if dlen > 0:
            dpos = (dpos + run) % dlen
        fill += run
        cfill += run
        if fill == n_fft:
            t_new = ist[_ANALYZED]
            for ch in range(channels):
                _analyze(in_buf, ch, t_new % ring, window, frame, spec_ring, mag_ring, norm_ring, axes, fp)
            shift_rows(in_buf, hop, 0)
            fill = n_fft - hop
            ist[_ANALYZED] = t_new + 1
            if t_new - lookahead >= 0:
                texture = controls[(i + run - 1) * stride]
                _frame_gains(t_new - lookahead, texture, weight, spec_ring, mag_ring, norm_ring, gains, ip, fp, fst)
                ist[_TARGET] = 3 - ist[_CUR] - ist[_OLD] if ist[_FADE_POS] >= 0 else (ist[_CUR] + 1) % 3
                ist[_STEP] = 0
        if cfill == b:
            step = ist[_STEP]
            if step >= 0:
                mags = mag_ring[:, (ist[_ANALYZED] - 1 - lookahead) % ring]
                for ch in range(channels):
                    _design_step(step, ch, ist[_TARGET], gains, mags, logg, scratch, padded, table_index, table_weight,
                                 work_r, work_z, parts_r, parts_z, filt_re, filt_im, nparts, axes, axes_rows, ip)
                if step + 1 < STEPS:
                    ist[_STEP] = step + 1
                else:
                    ist[_STEP] = -1
                    ist[_OLD] = ist[_CUR]
                    ist[_CUR] = ist[_TARGET]
                    ist[_FADE_POS] = 0
            _conv_block(cbuf, fdl_re, fdl_im, filt_re, filt_im, nparts, part_z, acc_r, acc_z, yb, fifo, axes, ist,
                        ip)
            cfill = 0
        for j in range(i, i + run):
            for ch in range(channels):
                y[ch, j] = fifo[ch, read]
            read = read + 1 if read + 1 < cap else 0
        i += run
    ist[_FILL], ist[_CFILL], ist[_READ], ist[_DPOS] = fill, cfill, read, dpos
    ist[_FED] += n


class FilterBankEqualizer:
    """CAK as a filter-bank equalizer (see the module docstring): the processor contract of
    :class:`~cak_dsp.CakEngine` (``prepare``, ``process``, ``process_automated``, ``flush``,
    ``reset``, ``latency_samples``, ``texture``) and its product (``frame_gains``, ``energies``)."""

    def __init__(self, preset: Preset, mode: str = DEFAULT_MODE) -> None:
        check_mode(mode)
        self.preset = preset
        self.mode = mode
        self._control = np.zeros(1)
        self._geometry: EqualizerGeometry | None = None

    # -- configuration -------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Allocate every buffer for this configuration, compile and warm the jitted code."""
        sample_rate, max_block, channels = arrays.check_prepare(sample_rate, max_block, channels)
        geo = equalizer_geometry(self.preset, sample_rate)
        self._geometry = geo
        self.max_block = max_block
        self.channels = channels
        n, bins, b, parts, m = geo.n_fft, geo.n_bins, geo.block, geo.partitions, geo.design_size
        self._in_buf = np.zeros((channels, n))
        self._spec_ring = np.zeros((channels, geo.ring, bins), np.complex128)
        self._mag_ring = np.zeros((channels, geo.ring, bins), np.float32)
        self._norm_ring = np.zeros((channels, geo.ring, bins), np.float32)
        self._gains = np.zeros((channels, bins), np.float32)
        self._frame = np.zeros(n)
        self._window = np.ascontiguousarray(geo.analysis_window)
        self._delay = np.zeros((channels, max(geo.lookahead * geo.hop, 1)))
        self._cbuf = np.zeros((channels, 2 * b))
        self._fdl_re = np.zeros((channels, parts, b + 1))
        self._fdl_im = np.zeros((channels, parts, b + 1))
        self._filt_re = np.zeros((channels, 3, parts, b + 1))
        self._filt_im = np.zeros((channels, 3, parts, b + 1))
        self._nparts = np.zeros((channels, 3), np.int64)
        self._parts_r = np.zeros((parts, 2 * b))
        self._parts_z = np.zeros((parts, b + 1), np.complex128)
        self._part_z = np.zeros(b + 1, np.complex128)
        self._acc_r = np.zeros((4, b + 1))
        self._acc_z = np.zeros(b + 1, np.complex128)
        self._yb = np.zeros((2, 2 * b))
        self._fifo = np.zeros((channels, geo.latency_samples + b + 1))
        self._logg = np.zeros((channels, bins))
        self._scratch = np.zeros((2, bins))
        self._padded = np.zeros(bins + 2 * RESPONSE_TAPS)
        self._table_index, self._table_weight = response_table(n, m)
        self._work_r = np.zeros((channels, m))
        self._work_z = np.zeros((channels, m // 2 + 1), np.complex128)
        self._axes = np.zeros(1, np.int64)
        self._axes_rows = np.ones(1, np.int64)
        self._ist = np.zeros(13, np.int64)
        self._ip = np.array([n, geo.hop, geo.lookahead, check_mode(self.mode), b, parts, m, geo.taps, geo.fade,
                             geo.lookahead * geo.hop], np.int64)
        p = self.preset
        norm = (p.alpha, p.global_low, p.global_high, p.gamma)
        self._fp = np.array([*norm, geo.magnitude_scale, p.bias, p.scale, p.threshold, p.temperature,
                             inverse_value(0.0, *norm), inverse_value(1.0, *norm)])
        self._fst = np.zeros(3)
        self._weight = np.ascontiguousarray(p.weight, dtype=np.float64)
        self._out = np.zeros((channels, self.max_block), np.float32)
        self._state = (self._in_buf, self._spec_ring, self._mag_ring, self._norm_ring, self._gains, self._frame,
                       self._window, self._delay, self._cbuf, self._fdl_re, self._fdl_im, self._filt_re,
                       self._filt_im, self._nparts, self._parts_r, self._parts_z, self._part_z, self._acc_r,
                       self._acc_z, self._yb, self._fifo, self._logg, self._scratch, self._padded, self._table_index,
                       self._table_weight, self._work_r, self._work_z, self._axes, self._axes_rows, self._weight,
                       self._ist, self._ip, self._fp, self._fst)
        self._warm()
        self.reset()

    def reset(self) -> None:
        """Clear all audio state (as after ``prepare``); texture and configuration are kept."""
        geo = self._require_prepared()
        for buf in (self._in_buf, self._spec_ring, self._mag_ring, self._norm_ring, self._gains, self._delay,
                    self._cbuf, self._fdl_re, self._fdl_im, self._filt_re, self._filt_im, self._fifo, self._logg,
                    self._work_r, self._work_z, self._fst):
            buf.fill(0)
        self._filt_re[:, 0, 0, :] = 1.0  # slot 0: the identity
        self._nparts[:] = 1
        self._ist[:] = 0
        self._ist[_FILL] = geo.preroll
        self._ist[_WRITE] = geo.block - 1
        self._ist[_FADE_POS] = -1
        self._ist[_STEP] = -1

    def _warm(self) -> None:
        """Compile (or load from the disk cache) every array layout a host may hand us, and run
        a frame's design once."""
        self.reset()
        n = min(self.max_block, 64)
        contiguous = np.zeros((self.channels, n), np.float32)
        interleaved = np.zeros((n, self.channels), np.float32).T
        strided = np.zeros((self.channels, 2 * n), np.float32)[:, ::2]
        controls = np.zeros(n)
        for block in (contiguous, interleaved, strided):
            _process(block, self._out[:, :n], self._control, 0, *self._state)
            _process(block, block, controls, 1, *self._state)
        noise = np.random.default_rng(0).standard_normal((self.channels, self.max_block)).astype(np.float32)
        total = 0
        while total < 2 * self._geometry.n_fft + 2 * self._geometry.hop:
            _process(noise, noise.copy(), np.ones(1), 0, *self._state)
            total += noise.shape[1]

    # -- properties ---------------------------------------------------------------------
    @property
    def geometry(self) -> EqualizerGeometry:
        """The layout in use (after ``prepare``)."""
        return self._require_prepared()

    @property
    def energies(self) -> tuple[float, float, float]:
        """Spectral energies of every frame since the last reset, as :attr:`CakEngine.energies`."""
        self._require_prepared()
        return float(self._fst[_E_IN]), float(self._fst[_E_OUT]), float(self._fst[_E_PUB])

    @property
    def frame_gains(self) -> np.ndarray:
        """The per-bin gains ``g[k, t]`` (channels, bins) of the latest frame: the standard
        engine's for the same frame. Read-only view; the next frame overwrites it."""
        self._require_prepared()
        view = self._gains.view()
        view.flags.writeable = False
        return view

    @property
    def latency_samples(self) -> int:
        """Exact delay from input to output in samples: ``lookahead * hop + block - 1``."""
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
        """Process one block of float32 audio shaped (channels, n), 1 <= n <= max_block, as
        :meth:`CakEngine.process`."""
        self._require_prepared()
        block = arrays.block(block, self.channels, self.max_block)
        out = self._out[:, :block.shape[1]] if out is None else arrays.out_block(out, block.shape)
        _process(block, out, self._control, 0, *self._state)
        return out

    def process_automated(self, block: np.ndarray, texture: np.ndarray) -> np.ndarray:
        """Process a block of any length with a per-sample texture curve, as
        :meth:`CakEngine.process_automated`."""
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
        """End the stream: the ``latency_samples`` output samples still inside, as if silence
        followed. ``concatenate(outputs + [flush()])[latency : latency + n_in]`` is the whole
        signal, aligned. Call ``reset`` before reusing the engine."""
        geo = self._require_prepared()
        fed = int(self._ist[_FED])
        tail = np.zeros((self.channels, geo.latency_samples), np.float32)
        if tail.shape[1]:
            _process(tail, tail, self._control, 0, *self._state)
        self._ist[_FED] = fed
        return tail

    def _require_prepared(self) -> EqualizerGeometry:
        if self._geometry is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before using the engine")
        return self._geometry



class EqualizerStage(Cak):
    """A CAK chain stage (:class:`~cak_dsp.Cak`: level, soft clip, the two-pass match) whose
    engine is a :class:`FilterBankEqualizer`. ``EqualizerStage("drums", 1.0)(audio, 44100)``
    renders offline, aligned, as ``Cak`` does."""

    def __init__(self, preset: Preset | str = "drums", texture: float = 0.8, mode: str = DEFAULT_MODE,
                 level: str = DEFAULT_LEVEL, soft_clip: bool = True) -> None:
        super().__init__(preset, texture, mode=mode, level=level, soft_clip=soft_clip)
        self.engine = FilterBankEqualizer(self.preset, mode=mode)
        self.texture = texture

    def __repr__(self) -> str:
        return "Equalizer" + super().__repr__()

    def __call__(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        from .chain import Chain

        return Chain([self])(audio, sample_rate)
