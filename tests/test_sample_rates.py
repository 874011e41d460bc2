"""A preset trained at 44.1 kHz has the same effect at 48, 88.2 and 96 kHz.

The engine keeps the preset's grid in physical units (bin spacing in Hz, frame step in
seconds) and rescales magnitudes by the window-sum ratio. Tolerance: the wet/dry change of
every third-octave band from 125 Hz to 16 kHz is within 0.5 dB of the change at 44.1 kHz
(measured: at most 0.33 dB for the published kernel, whose effect spans up to 18 dB).

Scaling the window keeps tones at the same normalized level but puts noise-like content
10*log10(n_fft'/n_fft)/2 dB lower (-0.4 dB at 48 kHz, -3 dB at 96 kHz); kernels of trained
strength barely react to that, while a kernel several times stronger than any trained one
would (docs/latency.md, "Sample rates"). So the claim is tested on real kernels: the published one
and every shipped preset.
"""
from __future__ import annotations

from math import gcd

import numpy as np
import pytest
from scipy.signal import resample_poly, welch

from cak_dsp import Preset, load_preset, render
from cak_dsp.demo import demo_clip
from cak_dsp.geometry import fft_size, low_latency_geometry, standard_geometry
from cak_dsp.presets import SHIPPED_DIR, resolve_preset

TOLERANCE_DB = 0.5


def _band_powers(x: np.ndarray, rate: int) -> np.ndarray:
    freqs, power = welch(x, rate, nperseg=int(round(8192 * rate / 44100)))  # 5.4 Hz resolution at every rate
    edges = 125 * 2 ** (np.arange(22) / 3)
    edges = edges[edges <= 16000]
    return np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])


def _band_change_db(preset: Preset, source: np.ndarray, rate: int, texture: float) -> np.ndarray:
    g = gcd(rate, 44100)
    dry = resample_poly(source, rate // g, 44100 // g).astype(np.float32)
    wet = render(dry, rate, preset, texture)
    return 10 * np.log10(_band_powers(wet, rate) / _band_powers(dry, rate))


@pytest.fixture(params=["published"] + sorted(p.name for p in SHIPPED_DIR.glob("*.json")))
def trained_preset(request: pytest.FixtureRequest) -> Preset:
    if request.param == "published":
        return request.getfixturevalue("published_preset")
    return load_preset(SHIPPED_DIR / request.param)


@pytest.mark.parametrize("rate", [48000, 88200, 96000])
def test_effect_is_the_same_at_other_rates(trained_preset: Preset, rate: int) -> None:
    preset = trained_preset
    source = demo_clip(4.0)[0].astype(np.float64)
    for texture in (0.6, 1.4):
        native = _band_change_db(preset, source, 44100, texture)
        other = _band_change_db(preset, source, rate, texture)
        assert np.ptp(native) > 0.5
        assert np.abs(other - native).max() <= TOLERANCE_DB


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors + ([n] if n > 1 else [])


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000, 192000])
def test_fft_size_is_fast_and_close_to_the_scaled_one(rate: int) -> None:
    """The geometry's n_fft has no prime factor above 31 (2230 = 2 * 5 * 223 at 48 kHz made the
    FFT pair several times slower) and stays within 0.15 % of the trained size scaled to the rate;
    the trained size itself is kept at 44.1 kHz and its power-of-two multiples."""
    ideal = 2048 * rate / 44100
    n_fft = standard_geometry(resolve_preset("drums"), rate).n_fft
    assert n_fft % 2 == 0 and max(_prime_factors(n_fft)) <= 31, (n_fft, _prime_factors(n_fft))
    assert abs(n_fft - ideal) <= 0.0015 * ideal, (n_fft, ideal)
    if rate in (22050, 44100, 88200):
        assert n_fft == 2048 * rate // 44100
    assert low_latency_geometry(resolve_preset("drums"), rate).n_fft == n_fft


def test_fft_size_is_the_nearest_fast_size() -> None:
    assert fft_size(2229.1) == 2232  # 48 kHz: 2230 = 2 * 5 * 223, 2228 = 2**2 * 557
    assert fft_size(4458.2) == 4464  # 96 kHz: 4458 = 2 * 3 * 743
    assert fft_size(2048.0) == 2048 and fft_size(3.0) == 16
    assert fft_size(2 * 37 * 10) == 2 * 37 * 10 - 4  # 740 has the prime 37; 736 = 2**5 * 23 is 4 below, 744 4 above
