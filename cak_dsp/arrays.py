"""Audio arrays at the Python API's boundary: checked and converted before any jitted code runs.

The jitted code indexes its arrays without bounds checks, so every public entry point
(``CakEngine``, ``Cak``, ``Chain``, ``PluginStage``, ``render``, the equalizer) passes what it
is given through these functions first. The rules:

Layout
    Audio is (channels, samples); a 1-D array is mono. A whole signal (``render``,
    ``Cak(...)(audio, rate)``, ``Chain(...)(audio, rate)``) has 1 to :data:`MAX_CHANNELS`
    channels, and with more than two channels no more channels than samples: anything else is
    refused as ambiguous (mono and stereo are always read as (channels, samples), so a stereo
    signal may be one sample long). An array that looks like (samples, channels), e.g.
    (44100, 2), is refused with the hint to pass ``audio.T``. A streamed block is exactly (channels, n) with the prepared channel count
    and ``1 <= n <= max_block``.
Sample types
    float32 is used as it is (any strides, no copy). Other floats are converted to float32.
    Integer PCM is scaled to +/-1: int8 by 1/128, int16 by 1/32768, int32 by 1/2**31, and
    uint8 (8-bit WAV) as ``(x - 128) / 128``. Every other type (int64, uint16/32/64, bool,
    complex, objects) is refused: its full scale is unknown.
``out``
    A writeable, aligned float32 array shaped like the block (it may be the block itself);
    nothing is converted, since the caller reads the result from it.
Values
    NaN and infinite samples are not refused: the engine treats them as silence, and a plugin
    stage's input and output are repaired (:mod:`cak_dsp.guard`).

A float32 block that is already right costs a few attribute checks, so the streaming calls stay
cheap; read-only or unaligned blocks are copied (the jitted code is compiled ahead for
writeable, aligned arrays only).
"""
from __future__ import annotations

import math
import sys
from numbers import Integral, Real

import numpy as np

from .limits import MAX_CHANNELS, SAMPLE_RATE_RANGE  # noqa: F401 (also cak_dsp.arrays')

MAX_BLOCK = 1 << 20

_F32 = np.dtype(np.float32)
# integer PCM: (offset, scale) so that float = (x - offset) * scale
_PCM = {np.dtype(np.int8): (0, 1.0 / 128), np.dtype(np.int16): (0, 1.0 / 32768),
        np.dtype(np.int32): (0, 1.0 / 2147483648), np.dtype(np.uint8): (128, 1.0 / 128)}


def as_float32(audio: object, where: str = "audio") -> np.ndarray:
    """``audio`` as a float32 ndarray (integer PCM scaled to +/-1; see the module docstring)."""
    array = np.asarray(audio)
    dtype = array.dtype
    if dtype == _F32:
        return array
    if dtype.kind == "f":
        return array.astype(np.float32)
    pcm = _PCM.get(dtype.newbyteorder("=")) if dtype.kind in "iu" else None
    if pcm is None:
        raise ValueError(f"{where}: samples of type {dtype} are not audio; give float32 or float64 (+/-1 full "
                         f"scale) or integer PCM int8, int16, int32 or uint8")
    offset, scale = pcm
    return ((array.astype(np.float64) - offset) * scale).astype(np.float32)


def signal(audio: object, where: str = "audio") -> tuple[np.ndarray, bool]:
    """A whole signal as float32 (channels, samples) and whether it was given as mono (1-D)."""
    array = as_float32(audio, where)
    if array.ndim == 1:
        return array[None, :], True
    if array.ndim != 2:
        raise ValueError(f"{where}: must be (channels, samples) or mono (samples,), got shape {array.shape}")
    channels, samples = array.shape
    if channels < 1:
        raise ValueError(f"{where}: has no channels, shape {array.shape}; expected (channels, samples)")
    if channels > MAX_CHANNELS or channels > max(samples, 2):
        hint = "; if it is (samples, channels), pass audio.T" if samples <= MAX_CHANNELS else ""
        raise ValueError(f"{where}: shape {array.shape} is ambiguous: expected (channels, samples) with 1 to "
                         f"{MAX_CHANNELS} channels (more than 2 only with more samples than channels){hint}")
    return array, False


def block(audio: object, channels: int, max_block: int | None, where: str = "block") -> np.ndarray:
    """A streamed block as float32 (channels, n), ``1 <= n <= max_block`` (None: any length),
    safe for the jitted code."""
    if max_block is None:
        max_block = sys.maxsize
    if type(audio) is np.ndarray and audio.dtype == _F32 and audio.ndim == 2 and audio.shape[0] == channels \
            and 0 < audio.shape[1] <= max_block and audio.flags.writeable and audio.flags.aligned:
        return audio
    array = as_float32(audio, where)
    if array.ndim == 1 and channels == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] != channels or not 0 < array.shape[1] <= max_block:
        hint = ""
        if array.ndim == 2 and array.shape[1] == channels and array.shape[0] != channels:
            hint = "; it looks like (samples, channels): pass block.T"
        samples = "n" if max_block == sys.maxsize else f"1..{max_block}"
        raise ValueError(f"{where}: must be shaped ({channels}, {samples}), i.e. (channels, samples), "
                         f"got {array.shape}{hint}")
    if not (array.flags.writeable and array.flags.aligned):
        array = array.copy()
    return array


def out_block(out: object, shape: tuple[int, ...], where: str = "out") -> np.ndarray:
    """``out`` if it is a writeable, aligned float32 ndarray of ``shape``; else a one-line ValueError."""
    if type(out) is np.ndarray and out.shape == shape and out.dtype == _F32 and out.flags.writeable \
            and out.flags.aligned:
        return out
    if not isinstance(out, np.ndarray):
        raise ValueError(f"{where}: must be a float32 numpy array shaped {shape}, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{where}: must be shaped like the block {shape}, got {out.shape}")
    if out.dtype != _F32:
        raise ValueError(f"{where}: must be float32, got {out.dtype}")
    if not out.flags.writeable or not out.flags.aligned:
        raise ValueError(f"{where}: must be a writeable, aligned array")
    return out.view(np.ndarray)


def check_prepare(sample_rate: object, max_block: object, channels: object) -> tuple[int, int, int]:
    """``prepare``'s arguments as ints, each a whole number within its range; else a one-line ValueError."""
    return (_whole(sample_rate, "sample_rate", *SAMPLE_RATE_RANGE, "Hz"),
            _whole(max_block, "max_block", 1, MAX_BLOCK, "samples"),
            _whole(channels, "channels", 1, MAX_CHANNELS, ""))


def _whole(value: object, name: str, low: int, high: int, unit: str) -> int:
    text = f"{name} must be a whole number from {low} to {high}{' ' + unit if unit else ''}, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, (Real, np.integer, np.floating)):
        raise ValueError(text)
    number = float(value)
    if not math.isfinite(number) or number != int(number) or not low <= number <= high:
        raise ValueError(text)
    return int(value) if isinstance(value, Integral) else int(number)
