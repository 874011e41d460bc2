"""Reference mode equals an independent restatement of the published inference math in torch."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import Preset, render

torch = pytest.importorskip("torch")
RATE, N_FFT, HOP = 44100, 2048, 512


def published_math(audio: np.ndarray, preset: Preset, c: float) -> np.ndarray:
    """librosa-equivalent centre-padded periodic-Hann STFT, conv2d (padding 1), inverse STFT."""
    x = torch.from_numpy(audio.astype(np.float64))
    window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float64)
    spec = torch.stft(x, N_FFT, HOP, window=window, center=True, pad_mode="constant", return_complex=True)
    mag, phase = spec.abs(), torch.angle(spec)
    a, lo, hi, g = preset.alpha, preset.global_low, preset.global_high, preset.gamma
    norm = torch.clip((torch.log1p(a * torch.sqrt(mag)) - lo) / (hi - lo + 1e-8), 0, 1) ** g
    weight = torch.tensor(preset.weight, dtype=torch.float64)[None, None]
    bias = torch.tensor([preset.bias], dtype=torch.float64)
    patterns = torch.nn.functional.conv2d(norm[None, None], weight, bias, padding=1)[0, 0]
    gate = torch.sigmoid(torch.tensor((c - preset.threshold) * preset.temperature, dtype=torch.float64))
    out = norm + patterns * c * gate * preset.scale
    pre_gamma = (torch.clip(out, 0, 1) + 1e-8) ** (1.0 / g)
    sqrt_mag = torch.clamp((torch.exp(pre_gamma * (hi - lo) + lo) - 1) / a, min=0)
    new = sqrt_mag ** 2 * torch.exp(1j * phase)
    return torch.istft(new, N_FFT, HOP, window=window, center=True, length=audio.shape[-1]).numpy()


@pytest.mark.parametrize("c", [0.3, 0.5, 0.8, 1.0, 1.5])
def test_reference_mode_matches_published_math(published_preset: Preset, drums: np.ndarray, c: float) -> None:
    rng = np.random.default_rng(2)
    audio = np.concatenate([drums[:RATE], 0.1 * rng.standard_normal(RATE // 2), drums[RATE: RATE + 12345]])
    expected = published_math(audio, published_preset, c)
    got = render(audio, RATE, published_preset, c, mode="reference", level="off", soft_clip=False)
    assert got.shape == audio.shape
    assert np.abs(got - expected).max() <= 1e-4
    assert np.abs(expected - audio).max() > 1e-2
