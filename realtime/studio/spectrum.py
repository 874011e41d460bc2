"""The scrolling spectrogram's columns: the latest dry and wet audio from the tap, in bands.

Each column is the magnitude of one Hann-windowed FFT of the newest :data:`N_FFT` samples,
averaged into :data:`BANDS` log-spaced bands from 40 Hz to the Nyquist frequency and scaled to
0..255 over :data:`FLOOR_DB`..0 dBFS, small enough to push at 30 Hz.
"""
from __future__ import annotations

import numpy as np

from .player import Tap

N_FFT = 1024
BANDS = 64
FLOOR_DB = -100.0


class Columns:
    """Turns the tap's newest audio into two columns of band levels (dry, wet) at ``rate``."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.window = np.hanning(N_FFT).astype(np.float32)
        freqs = np.fft.rfftfreq(N_FFT, 1.0 / rate)
        edges = np.geomspace(40.0, rate / 2, BANDS + 1)
        band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, BANDS - 1)
        # bins -> bands as one matrix product: each band the mean power of its bins (norm included)
        self.bands = np.zeros((freqs.size, BANDS), np.float32)
        self.bands[np.arange(freqs.size), band] = 1.0
        for empty in np.flatnonzero(self.bands.sum(axis=0) == 0):  # low bands narrower than a bin: the nearest bin
            centre = np.sqrt(edges[empty] * edges[empty + 1])
            self.bands[np.argmin(np.abs(freqs - centre)), empty] = 1.0
        norm = (2.0 / self.window.sum()) ** 2
        self.bands *= norm / np.maximum(self.bands.sum(axis=0), 1.0)
        self.seen = -1

    def next(self, tap: Tap) -> list[list[int]] | None:
        """[dry, wet] columns of ints 0..255, or None when nothing new was written since the last."""
        audio, written = tap.latest(N_FFT)
        if written == self.seen:
            return None
        self.seen = written
        spectra = np.fft.rfft(audio * self.window, axis=1)
        power = (spectra.real ** 2 + spectra.imag ** 2).astype(np.float32) @ self.bands
        db = 10 * np.log10(power + 1e-20)
        scaled = np.clip((db - FLOOR_DB) / -FLOOR_DB * 255, 0, 255).astype(np.int64)
        return scaled.tolist()
