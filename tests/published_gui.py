"""An independent restatement of the published GUI's processing, and the measures that compare with it.

``published_gui`` restates ``AudioProcessor.process_audio`` of the original project's GUI
(gloame-ai/cak-audio, ``cak_gui_minimal.py``) for one mono array at 44.1 kHz: 15 s chunks with
50 % overlap, per chunk a librosa STFT, the clipped normalization, the kernel as a torch
``conv2d``, the clipped de-normalization and a librosa iSTFT with the chunk's phase; chunks
joined with short linear fades and weight normalization; then the whole-file RMS match (gain
limited to 0.1..10) and ``tanh(0.95 x) / 0.95``. It shares no code with ``cak_dsp`` (only the
preset's numbers), so the engine is measured against the published path, not against itself.
It needs the test extras (librosa, torch).
"""
from __future__ import annotations

import numpy as np

RATE, N_FFT, HOP = 44100, 2048, 512
CHUNK_SECONDS = 15.0


def _normalize(mag: np.ndarray, p) -> np.ndarray:
    log_mag = np.log1p(np.sqrt(mag) * p.alpha)
    return np.power(np.clip((log_mag - p.global_low) / (p.global_high - p.global_low + 1e-8), 0, 1), p.gamma)


def _denormalize(x: np.ndarray, p) -> np.ndarray:
    pre_gamma = np.power(np.clip(x, 0, 1) + 1e-8, 1.0 / p.gamma)
    log_mag = pre_gamma * (p.global_high - p.global_low) + p.global_low
    return np.maximum((np.exp(log_mag) - 1) / p.alpha, 0) ** 2


def _chunk(chunk: np.ndarray, p, c: float) -> np.ndarray:
    import librosa
    import torch

    spec = librosa.stft(chunk, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT)
    magnitude, phase = np.abs(spec), np.angle(spec)
    with torch.no_grad():
        x = torch.tensor(_normalize(magnitude, p), dtype=torch.float32)[None, None]
        weight = torch.tensor(np.asarray(p.weight), dtype=torch.float32).reshape(1, 1, 3, 3)
        patterns = torch.nn.functional.conv2d(x, weight, torch.tensor([p.bias], dtype=torch.float32), padding=1)
        texture = torch.tensor([[c]], dtype=torch.float32).view(-1, 1, 1, 1)
        gate = torch.sigmoid((texture - p.threshold) * p.temperature)
        y = (x + patterns * texture * p.scale * gate).numpy()[0, 0]
    return librosa.istft(_denormalize(y, p) * np.exp(1j * phase), hop_length=HOP, win_length=N_FFT,
                         length=len(chunk))


def published_spectral(audio: np.ndarray, preset, c: float) -> np.ndarray:
    """The GUI's chunked spectral processing of a mono signal, before its RMS match and soft clip."""
    y = np.asarray(audio, dtype=np.float32)
    n, size = len(y), int(CHUNK_SECONDS * RATE)
    step = size // 2
    starts = list(range(0, n - size + step, step)) or [0]
    out, weights = np.zeros(n), np.zeros(n)
    for start in starts:
        chunk = np.pad(y[start:start + size], (0, max(0, size - len(y[start:start + size]))))
        end = min(start + size, n)
        length = end - start
        window = np.ones(length)
        fade = min(HOP // 2, length // 4)
        if start > 0 and fade > 0:
            window[:fade] = np.linspace(0, 1, fade)
        if end < n and fade > 0:
            window[-fade:] = np.linspace(1, 0, fade)
        out[start:end] += _chunk(chunk, preset, c)[:length] * window
        weights[start:end] += window
    mask = weights > 0
    out[mask] /= weights[mask]
    return out


def published_gui(audio: np.ndarray, preset, c: float, soft_clip: bool = True) -> np.ndarray:
    """The GUI's output for a mono signal: spectral processing, RMS match, then (optionally) its tanh."""
    y = np.asarray(audio, dtype=np.float64)
    out = published_spectral(y, preset, c)
    out_rms = np.sqrt(np.mean(out ** 2))
    if out_rms > 0:
        out *= np.clip(np.sqrt(np.mean(y ** 2)) / out_rms, 0.1, 10.0)
    return np.tanh(out * 0.95) / 0.95 if soft_clip else out


def _power_frames(x: np.ndarray) -> np.ndarray:
    padded = np.pad(np.asarray(x, dtype=np.float64), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return np.abs(np.fft.rfft(frames * np.hanning(N_FFT), axis=1)) ** 2


def log_spectral_distance(x: np.ndarray, ref: np.ndarray, floor_db: float = -100.0) -> float:
    """Mean over frames of the RMS over bins of the dB difference of the power spectra.

    Powers are floored at ``floor_db`` below the reference's loudest bin, so the digital
    silence of quiet bins does not dominate.
    """
    px, pr = _power_frames(x), _power_frames(ref)
    floor = pr.max() * 10 ** (floor_db / 10)
    diff = 10 * np.log10(np.maximum(px, floor)) - 10 * np.log10(np.maximum(pr, floor))
    return float(np.mean(np.sqrt(np.mean(diff ** 2, axis=1))))


def frame_loudness_db(x: np.ndarray) -> np.ndarray:
    """Loudness per STFT frame (dB of the frame's mean power)."""
    return 10 * np.log10(_power_frames(x).mean(axis=1) + 1e-20)


def loudness_change_correlation(x: np.ndarray, ref: np.ndarray, range_db: float = 60.0) -> float:
    """Correlation of the frame-to-frame loudness changes of ``x`` and ``ref``, over frames
    within ``range_db`` of the reference's loudest frame."""
    lx, lr = frame_loudness_db(x), frame_loudness_db(ref)
    keep = (lr[1:] > lr.max() - range_db) & (lr[:-1] > lr.max() - range_db)
    return float(np.corrcoef(np.diff(lx)[keep], np.diff(lr)[keep])[0, 1])


def level_change_db(x: np.ndarray, dry: np.ndarray) -> float:
    """Whole-signal RMS of ``x`` relative to ``dry``, in dB."""
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) / np.mean(np.square(dry, dtype=np.float64))))
