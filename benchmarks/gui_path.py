"""The original project's GUI path (gloame-ai/cak-audio, ``cak_gui_minimal.py``,
``AudioProcessor.process_audio``), restated for the speed benchmarks: numpy, librosa and torch
only (no cak import), so a whole-process run of it pays what the published GUI pays.
"""
from __future__ import annotations

import numpy as np

SR = 44100
N_FFT = 2048
HOP = 512


class GuiPath:
    """Restatement of the original GUI's ``AudioProcessor.process_audio`` for one mono signal.

    15 s chunks with 50% overlap; per chunk librosa STFT, normalization, the CAK generator as a
    torch ``conv2d``, denormalization and librosa iSTFT with the chunk's phase; chunks joined with
    short linear crossfades and weight normalization; then RMS matching and a tanh soft clip.
    Differs from the original only in taking an array instead of a file and in not printing.
    """

    chunk = int(15.0 * SR)

    def __init__(self, ref, texture: float) -> None:
        """``ref``: anything with the preset's kernel and normalization attributes (a :class:`~cak_dsp.Preset`)."""
        import torch

        self.torch = torch
        self.ref = ref
        self.weight = torch.tensor(ref.weight, dtype=torch.float32).reshape(1, 1, 3, 3)
        self.bias = torch.tensor([ref.bias], dtype=torch.float32)
        self.scale = torch.tensor([ref.scale], dtype=torch.float32)
        self.texture = torch.tensor([[texture]], dtype=torch.float32).view(-1, 1, 1, 1)
        self.gate = torch.sigmoid((self.texture - torch.tensor(ref.threshold)) * ref.temperature)

    def normalize(self, mag: np.ndarray) -> np.ndarray:
        r = self.ref
        log_mag = np.log1p(np.sqrt(mag) * r.alpha)
        x = np.clip((log_mag - r.global_low) / (r.global_high - r.global_low + 1e-8), 0, 1)
        return np.power(x, r.gamma)

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        r = self.ref
        pre_gamma = np.power(np.clip(x, 0, 1) + 1e-8, 1.0 / r.gamma)
        log_mag = pre_gamma * (r.global_high - r.global_low) + r.global_low
        return np.maximum(np.expm1(log_mag) / r.alpha, 0) ** 2

    def process_chunk(self, chunk: np.ndarray) -> np.ndarray:
        import librosa

        torch = self.torch
        spec = librosa.stft(chunk, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT)
        magnitude, phase = np.abs(spec), np.angle(spec)
        with torch.no_grad():
            x = torch.tensor(self.normalize(magnitude), dtype=torch.float32)[None, None]
            patterns = torch.nn.functional.conv2d(x, self.weight, self.bias, padding=1)
            y = (x + patterns * self.texture * self.scale * self.gate).numpy()[0, 0]
        out_spec = self.denormalize(y) * np.exp(1j * phase)
        return librosa.istft(out_spec, hop_length=HOP, win_length=N_FFT, length=len(chunk))

    def spectral(self, y: np.ndarray) -> np.ndarray:
        """The chunked spectral processing and crossfade, before RMS matching and soft clip."""
        n, size, step = len(y), self.chunk, self.chunk // 2
        out, weights = np.zeros(n), np.zeros(n)
        for start in range(0, n - size + step, step) or [0]:
            chunk = y[start:start + size]
            chunk = np.pad(chunk, (0, size - len(chunk)))
            end = min(start + size, n)
            length = end - start
            window = np.ones(length)
            fade = min(HOP // 2, length // 4)  # the GUI fades over half an STFT hop
            if start > 0 and fade > 0:
                window[:fade] = np.linspace(0, 1, fade)
            if end < n and fade > 0:
                window[-fade:] = np.linspace(1, 0, fade)
            out[start:end] += self.process_chunk(chunk)[:length] * window
            weights[start:end] += window
        mask = weights > 0
        out[mask] /= weights[mask]
        return out

    def process(self, y: np.ndarray) -> np.ndarray:
        out = self.spectral(y)
        out_rms = np.sqrt(np.mean(out**2))
        if out_rms > 0:
            out *= np.clip(np.sqrt(np.mean(y**2)) / out_rms, 0.1, 10.0)
        return np.tanh(out * 0.95) / 0.95

    def process_channels(self, audio: np.ndarray) -> np.ndarray:
        """The GUI is mono: process each channel of ``(channels, n)`` on its own."""
        return np.stack([self.process(ch) for ch in audio])
