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
so ``n_fft`` and ``hop`` scale with the rate (48 kHz: n_fft 2230, hop 557). Magnitudes
are rescaled by the window-sum ratio so a sine of a given level meets the kernel at
the same normalized value at every rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preset import Preset


def periodic_hann(n: int) -> np.ndarray:
    """The periodic ("DFT-even") Hann window used by librosa and ``torch.hann_window``."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


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

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def synthesis_lead(self) -> int:
        """Leading zeros of the synthesis window: output is final that many samples early."""
        nonzero = np.flatnonzero(self.synthesis_window)
        return int(nonzero[0]) if nonzero.size else 0

    @property
    def latency_samples(self) -> int:
        """Exact input-to-output delay in samples (see the module docstring)."""
        return self.n_fft - 1 - self.synthesis_lead + self.lookahead * self.hop

    def last_frame(self, n_samples: int) -> int:
        """Index of the last frame of a finite signal: frames centred at or before its end."""
        return (n_samples + self.preroll - self.n_fft // 2) // self.hop


def standard_geometry(preset: Preset, sample_rate: int) -> FrameGeometry:
    """The published geometry (centred periodic-Hann frames) scaled to ``sample_rate``.

    Look-ahead is one frame unless the preset is causal (its future-time column is zero).
    """
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    ratio = sample_rate / preset.sample_rate
    n_fft = max(16, 2 * int(round(preset.n_fft * ratio / 2)))
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
