"""Frame geometry: the STFT layout the engine runs on, as data rather than constants.

A geometry holds the analysis and synthesis windows, the hop, the pre-roll (how many
zeros precede the first sample in the first frame) and the look-ahead (how many frames
the kernel reads ahead). The engine's latency follows from it alone:

    latency = n_fft - 1 - s0 + lookahead * hop

where ``s0`` is the number of leading zeros of the synthesis window (1 for a periodic
Hann window). It does not depend on the block size: the engine is sample-accurate.
For the standard geometry at 44.1 kHz (n_fft 2048, hop 512, look-ahead 1) that is
2558 samples (58.0 ms); a causal preset (look-ahead 0) needs 2046 samples (46.4 ms).

Other sample rates keep the preset's time-frequency grid in physical units: bins stay
``sample_rate / n_fft`` Hz apart and frames stay ``hop / sample_rate`` seconds apart,
so ``n_fft`` and ``hop`` scale with the rate. ``n_fft`` is the even size nearest the scaled
one whose prime factors are all at most 31 (:func:`fft_size`): the FFT runs one pass per prime
factor at a cost that grows with the factor, and the size rounding alone gives can hold a
large prime (48 kHz: 2229.1 rounds to 2230 = 2 * 5 * 223, an FFT several times slower than
2232 = 2**3 * 3**2 * 31). At the common rates the size so chosen is within 0.13 % of the
scaled one, so bins stay within 0.13 % of the trained spacing (48 kHz: n_fft 2232, hop 557).
Magnitudes are rescaled by the window-sum ratio so a sine of a given level meets the kernel
at the same normalized value at every rate.

The low-latency geometry (:func:`low_latency_geometry`) keeps the long analysis window,
so bins stay ``sample_rate / n_fft`` Hz apart, but synthesizes only the last ``2 * hop``
samples of each frame (asymmetric windows, see :func:`asymmetric_windows`) and runs frames
every ``hop = trained hop / TAP_FRAMES`` samples (64 at 44.1 kHz). The kernel's time taps
stay one trained hop apart: they read the frames ``tap_frames`` frames before and after.
Its latency is ``2 * hop - 2`` plus, for a non-causal preset, one trained hop of
look-ahead: 126 samples (2.9 ms) causal and 638 samples (14.5 ms) otherwise at 44.1 kHz.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .preset import Preset


TAP_FRAMES = 8
MAX_FFT_PRIME = 31  # the largest prime factor of an FFT size a geometry uses


def periodic_hann(n: int) -> np.ndarray:
    """The periodic ("DFT-even") Hann window used by librosa and ``torch.hann_window``."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _largest_prime_factor(n: int) -> int:
    largest, p = 1, 2
    while p * p <= n:
        while n % p == 0:
            largest, n = p, n // p
        p += 1
    return max(largest, n)


def fft_size(ideal: float) -> int:
    """The even FFT size nearest ``ideal`` (at least 16) whose prime factors are all at most
    :data:`MAX_FFT_PRIME`; of two equally near, the smaller. A power of two stays itself."""
    centre = max(16, 2 * int(round(ideal / 2)))
    for step in range(0, centre, 2):
        candidates = [n for n in (centre - step, centre + step)
                      if n >= 16 and _largest_prime_factor(n) <= MAX_FFT_PRIME]
        if candidates:
            return min(candidates, key=lambda n: (abs(n - ideal), n))
    raise AssertionError("unreachable: 16 is a power of two")


def asymmetric_windows(n_fft: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Low-delay analysis and synthesis windows (Mauler & Martin, EUSIPCO 2007).

    The analysis window rises as the square root of a Hann window over its first
    ``n_fft - m`` samples and falls as the square root of a Hann window over its last ``m``.
    The synthesis window is zero except over the last ``2 * m`` samples, where it is chosen so
    that analysis x synthesis is a periodic Hann window of length ``2 * m`` ending with the
    frame; those products overlap-add to one at a hop of ``m``. A frame therefore still
    resolves ``n_fft`` bins, but its output is final ``2 * m - 2`` samples after its last input
    sample instead of ``n_fft - 2``.
    """
    if not 1 <= m <= n_fft // 4:
        raise ValueError(f"synthesis half-length must be between 1 and n_fft/4 = {n_fft // 4}, got {m}")
    short = periodic_hann(2 * m)
    analysis = np.concatenate([np.sqrt(periodic_hann(2 * (n_fft - m))[:n_fft - m]), np.sqrt(short[m:])])
    synthesis = np.zeros(n_fft)
    synthesis[n_fft - 2 * m:n_fft - m] = short[:m] / analysis[n_fft - 2 * m:n_fft - m]
    synthesis[n_fft - m:] = np.sqrt(short[m:])
    return analysis, synthesis


@dataclass(frozen=True)
class FrameGeometry:
    """Windows, hop, pre-roll and look-ahead of one engine configuration."""

    sample_rate: int
    n_fft: int
    hop: int
    analysis_window: np.ndarray
    synthesis_window: np.ndarray
    preroll: int
    lookahead: int
    magnitude_scale: float
    tap_frames: int = 1
    anchor: int | None = None

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def synthesis_lead(self) -> int:
        """Leading zeros of the synthesis window: output is final that many samples early."""
        nonzero = np.flatnonzero(self.synthesis_window)
        return int(nonzero[0]) if nonzero.size else 0

    @property
    def ring(self) -> int:
        """Normalized frames the engine keeps: the kernel reads frames ``t - tap_frames``,
        ``t`` and ``t + tap_frames``."""
        return 2 * self.tap_frames + 1

    @property
    def tap_spacing(self) -> int:
        """Samples between the frames the kernel's time taps read (one trained hop)."""
        return self.tap_frames * self.hop

    @property
    def latency_samples(self) -> int:
        """Exact input-to-output delay in samples (see the module docstring)."""
        return self.n_fft - 1 - self.synthesis_lead + self.lookahead * self.hop

    def last_frame(self, n_samples: int) -> int:
        """Index of the last frame of a finite signal: the last whose sample at offset ``anchor``
        (default: the centre) lies at or before its end."""
        anchor = self.n_fft // 2 if self.anchor is None else self.anchor
        return (n_samples + self.preroll - anchor) // self.hop


def standard_geometry(preset: Preset, sample_rate: int) -> FrameGeometry:
    """The published geometry (centred periodic-Hann frames) scaled to ``sample_rate``.

    Look-ahead is one frame unless the preset is causal (its future-time column is zero).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    ratio = sample_rate / preset.sample_rate
    n_fft = fft_size(preset.n_fft * ratio)
    hop = max(1, int(round(preset.hop * ratio)))
    hop = min(hop, n_fft // 2)
    window = periodic_hann(n_fft)
    return FrameGeometry(
        sample_rate=sample_rate,
        n_fft=n_fft,
        hop=hop,
        analysis_window=window,
        synthesis_window=window,
        preroll=n_fft // 2,
        lookahead=0 if preset.is_causal else 1,
        magnitude_scale=float(periodic_hann(preset.n_fft).sum() / window.sum()),
    )


def low_latency_geometry(preset: Preset, sample_rate: int) -> FrameGeometry:
    """Asymmetric windows at ``TAP_FRAMES`` frames per trained hop, on the standard bin grid.

    The synthesis half-length and the hop are both ``hop = round(trained hop / TAP_FRAMES)``
    at ``sample_rate`` (64 at 44.1 kHz, 70 at 48 kHz), so the kernel's taps are
    ``TAP_FRAMES * hop`` samples apart (512 at 44.1 kHz; 560 at 48 kHz, 0.5 % more than the
    exact 557.3). Its ``n_fft`` is the standard geometry's. Look-ahead is one trained hop unless the preset is causal. The signal
    starts at the peak of the first frame's output window, where the overlap-add is already
    complete; the last frame of a finite signal is the first whose window reaches its end.
    """
    std = standard_geometry(preset, sample_rate)
    ratio = sample_rate / preset.sample_rate
    hop = max(1, int(round(preset.hop * ratio / TAP_FRAMES)))
    n_fft = std.n_fft
    analysis, synthesis = asymmetric_windows(n_fft, hop)
    return FrameGeometry(
        sample_rate=sample_rate,
        n_fft=n_fft,
        hop=hop,
        analysis_window=analysis,
        synthesis_window=synthesis,
        preroll=n_fft - hop,
        lookahead=0 if preset.is_causal else TAP_FRAMES,
        magnitude_scale=float(periodic_hann(preset.n_fft).sum() / analysis.sum()),
        tap_frames=TAP_FRAMES,
        anchor=n_fft - hop + 1,
    )


GEOMETRIES: dict[str, Callable[[Preset, int], FrameGeometry]] = {
    "standard": standard_geometry,
    "low-latency": low_latency_geometry,
}


def make_geometry(name: str, preset: Preset, sample_rate: int) -> FrameGeometry:
    """The geometry called ``name`` (one of :data:`GEOMETRIES`) for ``preset`` at ``sample_rate``."""
    if name not in GEOMETRIES:
        raise ValueError(f"unknown geometry {name!r}; choose one of: {', '.join(GEOMETRIES)}")
    return GEOMETRIES[name](preset, sample_rate)
