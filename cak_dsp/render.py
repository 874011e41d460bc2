"""Offline rendering of arrays through the streaming engine (files: :mod:`cak_dsp.file_render`).

``render`` feeds the whole signal through the same jitted code the live host runs, then
flushes the engine and removes its latency, so the result lines up with the input sample for
sample and has the same length.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import arrays
from .cak_stage import Cak
from .channel_threads import default_threads
from .level import DEFAULT_LEVEL, match_gain, sum_squares
from .normalization import DEFAULT_MODE
from .preset import Preset
from .texture import check_texture, check_texture_curve

CHUNK = 1 << 16


def texture_curve(texture: float | np.ndarray, n: int) -> np.ndarray:
    """One texture value per sample from a constant or a curve; checks length and range."""
    if np.ndim(texture) == 0:
        return np.broadcast_to(np.float64(check_texture(texture)), (n,))
    curve = np.asarray(texture, dtype=np.float64)
    if curve.shape != (n,):
        raise ValueError(f"texture curve must have one value per sample ({n}), got shape {curve.shape}")
    return check_texture_curve(curve, "texture curve")


def render(audio: np.ndarray, sample_rate: int, preset: Preset, texture: float | np.ndarray = 0.5,
           mode: str = DEFAULT_MODE, level: str = DEFAULT_LEVEL, soft_clip: bool = True,
           progress: Callable[[int], None] | None = None, geometry: str = "standard",
           threads: int | None = None) -> np.ndarray:
    """Process a whole signal offline; returns float32 (channels, samples) aligned with the input.

    ``audio`` is (channels, samples) or (samples,) for mono; integer PCM is scaled to +/-1 and
    ambiguous layouts are refused (:mod:`cak_dsp.arrays`). ``texture`` is one value or a
    per-sample curve (automation: each frame takes the value at the sample where a live stream
    would have processed it). ``mode``, ``level`` and ``soft_clip`` are those of
    :class:`~cak_dsp.Cak`; ``level="match"`` measures the engine's output in the same pass and
    applies the gain afterwards, which equals the two-pass stream of a chain or a file.
    ``progress`` is called with the number of samples done per chunk; ``geometry`` is the
    engine's frame geometry (``"standard"`` or ``"low-latency"``). ``threads`` splits the channels
    over that many threads (None: one per channel, at most one per core; the output is the same).
    """
    audio, mono = arrays.signal(audio)
    channels, n = audio.shape
    curve = texture_curve(texture, n)
    stage = Cak(preset, float(curve[-1]) if n else 0.0, mode=mode, level=level, soft_clip=soft_clip,
                geometry=geometry, threads=default_threads(channels) if threads is None else threads)
    stage.prepare(sample_rate, max_block=CHUNK, channels=channels)
    engine = stage.engine
    latency = engine.latency_samples
    raw = np.empty((channels, n + latency), np.float32)
    constant = np.ndim(texture) == 0
    engine.texture = float(curve[-1]) if n else 0.0
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        if constant:  # straight into the result, no per-sample curve
            engine.process(audio[:, start:stop], out=raw[:, start:stop])
        else:
            raw[:, start:stop] = engine.process_automated(audio[:, start:stop], curve[start:stop])
        if progress is not None:
            progress(stop - start)
    raw[:, n:] = engine.flush()[:, :latency]
    if level == "match":
        aligned = raw[:, latency:]
        stage.output.gain = match_gain(sum_squares(audio), sum_squares(aligned), engine.energies)
    if constant:
        controls, stride = np.array([float(texture)]), 0
    else:
        controls, stride = np.concatenate([curve, np.full(latency, curve[-1] if n else 0.0)]), 1
    for start in range(0, n + latency, CHUNK):
        stop = min(start + CHUNK, n + latency)
        dry = audio[:, start:stop] if stop <= n else np.pad(audio[:, start:min(stop, n)], ((0, 0), (0, stop - max(start, n))))
        stage.output_stage(dry, raw[:, start:stop], controls[start * stride:], stride)
    result = raw[:, latency:]
    return result[0] if mono else result
