"""A WAV file writer for rendered audio: float32 blocks (channels, n) to 16- or 24-bit PCM or
32-bit float, interleaved by compiled code.

pedalboard's writer (JUCE) converts each sample through a generic per-sample path: on a long
render, writing cost about as much as the level match's whole second pass. Here one compiled loop
clips, scales and packs a block and the file takes the bytes as they are. PCM codes are
``round(x * 2**(bits - 1))`` within the code range, the scale that readers (libsndfile,
pedalboard) divide by: a sample reads back within half a step (a full step at +1.0).

The file is canonical RIFF/WAVE, as every reader takes it: ``WAVE_FORMAT_PCM`` (16-bit, one or
two channels), ``WAVE_FORMAT_IEEE_FLOAT`` with its ``fact`` chunk (32-bit, one or two channels),
else ``WAVE_FORMAT_EXTENSIBLE`` (24-bit, or more than two channels) with the speaker mask of
the usual layouts. The sizes are written when the file is closed. RIFF sizes are 32-bit:
:func:`fits` says whether a render's data fits (the file renderer uses pedalboard beyond it).
NaN or infinite samples are written as silence.

While it writes, a thread of its own flushes the data to the disk every ``SYNC_BYTES``
(``fdatasync``), so the sync that makes a finished render durable (:mod:`cak_dsp.atomic`) finds
little left to write: the disk works while the render does. A failed flush fails the write.
"""
from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from types import TracebackType

import numpy as np
from numba import njit

from .vecmath import JIT

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"  # KSDATAFORMAT_SUBTYPE_*
_SPEAKERS = {1: 0x4, 2: 0x3, 3: 0x7, 4: 0x33, 5: 0x37, 6: 0x3F, 7: 0x13F, 8: 0x63F}
_HEADROOM = 1 << 10  # header bytes kept out of the 32-bit RIFF size
BIT_DEPTHS = (16, 24, 32)
SYNC_BYTES = 8 << 20
_DATASYNC = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def fits(frames: int, channels: int, bit_depth: int) -> bool:
    """Whether ``frames`` of ``channels`` at ``bit_depth`` fit in a RIFF file (sizes are 32-bit)."""
    return frames * channels * (bit_depth // 8) + _HEADROOM < (1 << 32)


@njit(inline="always", **JIT)
def _pcm_code(v, full: float):
    """A sample as a PCM code of full scale ``full`` (2**(bits - 1)): clipped to +/-1, NaN and
    infinity as silence, rounded to nearest, the top within range."""
    v = min(max(v, np.float32(-1.0)), np.float32(1.0)) if abs(v) < np.inf else np.float32(0.0)
    return min(np.int32(np.rint(v * np.float32(full))), np.int32(full - 1.0))


@njit(**JIT)
def _pack_pcm24(x, out) -> None:
    """``x`` (channels, n) float32 into ``out`` as interleaved little-endian 24-bit PCM."""
    channels, n = x.shape
    for c in range(channels):
        row = x[c]
        for i in range(n):
            code = _pcm_code(row[i], 8388608.0)
            at = (i * channels + c) * 3
            out[at] = code & 255
            out[at + 1] = (code >> 8) & 255
            out[at + 2] = (code >> 16) & 255


@njit(**JIT)
def _pack_pcm16(x, out) -> None:
    """``x`` (channels, n) float32 into ``out`` (n * channels int16) as interleaved 16-bit PCM."""
    channels, n = x.shape
    for c in range(channels):
        row = x[c]
        for i in range(n):
            out[i * channels + c] = np.int16(_pcm_code(row[i], 32768.0))


@njit(**JIT)
def _pack_float(x, out) -> None:
    """``x`` (channels, n) float32 into ``out`` (n * channels float32), interleaved; NaN and
    infinity as silence."""
    channels, n = x.shape
    for c in range(channels):
        row = x[c]
        for i in range(n):
            v = row[i]
            out[i * channels + c] = v if abs(v) < np.inf else np.float32(0.0)


class WavWriter:
    """Write float32 blocks (channels, n) to ``path`` as a WAV file of ``bit_depth`` 16, 24
    (PCM) or 32 (float). A context manager; the header's sizes are written on close."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int, bit_depth: int) -> None:
        if bit_depth not in BIT_DEPTHS:
            raise ValueError(f"{path}: WAV bit depth must be one of {', '.join(map(str, BIT_DEPTHS))}, got {bit_depth}")
        if not 1 <= channels <= 0xFFFF:
            raise ValueError(f"{path}: WAV channel count must be 1..65535, got {channels}")
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.bit_depth = int(bit_depth)
        self.frames = 0
        self._scratch = np.empty(0, np.uint8)
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(self._header(0))
        self._unsynced = 0
        self._sync_wanted = threading.Event()
        self._closing = False
        self._sync_error: OSError | None = None
        self._syncer = threading.Thread(target=self._sync_loop, name="cak-wav-sync", daemon=True)
        self._syncer.start()

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.close()
            return
        self._stop_syncing()
        try:
            self._file.close()
        except OSError:
            pass  # the error under way says what went wrong

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (channels, n) float32 (any strides)."""
        block = np.asarray(block, np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise ValueError(f"{self.path}: blocks must be shaped ({self.channels}, n), got {block.shape}")
        width = self.bit_depth // 8
        size = block.size * width
        if self._scratch.size < size:
            self._scratch = np.empty(size, np.uint8)
        data = self._scratch[:size]
        if self.bit_depth == 24:
            _pack_pcm24(block, data)
        elif self.bit_depth == 16:
            _pack_pcm16(block, data.view(np.int16))
        else:
            _pack_float(block, data.view(np.float32))
        if self._sync_error is not None:
            raise self._sync_error
        self._file.write(data)
        self.frames += block.shape[1]
        self._unsynced += size
        if self._unsynced >= SYNC_BYTES:
            self._unsynced = 0
            self._file.flush()  # the bytes reach the kernel; the thread asks the disk for them
            self._sync_wanted.set()

    def close(self) -> None:
        """Pad the data to an even length, write the sizes into the header and close."""
        if self._file.closed:
            return
        try:
            self._stop_syncing()
            if self._sync_error is not None:
                raise self._sync_error
            data = self.frames * self.channels * (self.bit_depth // 8)
            if data % 2:
                self._file.write(b"\x00")
            self._file.seek(0)
            self._file.write(self._header(data))
            self._file.flush()
        finally:
            self._file.close()

    def _sync_loop(self) -> None:
        """The flushing thread: ``fdatasync`` each time :meth:`write` asks, until closing."""
        while True:
            self._sync_wanted.wait()
            self._sync_wanted.clear()
            if self._closing:
                return
            try:
                _DATASYNC(self._file.fileno())
            except OSError as exc:
                self._sync_error = exc
                return

    def _stop_syncing(self) -> None:
        """Stop the flushing thread (after its flush in progress) before the file closes."""
        self._closing = True
        self._sync_wanted.set()
        self._syncer.join()

    def _header(self, data_bytes: int) -> bytes:
        """RIFF, fmt (and fact for float) and the data chunk's header, for ``data_bytes`` of data."""
        width = self.bit_depth // 8
        tag = WAVE_FORMAT_IEEE_FLOAT if self.bit_depth == 32 else WAVE_FORMAT_PCM
        block_align = self.channels * width
        fmt = struct.pack("<HHIIHH", tag, self.channels, self.sample_rate, self.sample_rate * block_align,
                          block_align, self.bit_depth)
        if self.channels > 2 or self.bit_depth == 24:
            fmt = struct.pack("<HHIIHHHHI", WAVE_FORMAT_EXTENSIBLE, self.channels, self.sample_rate,
                              self.sample_rate * block_align, block_align, self.bit_depth, 22, self.bit_depth,
                              _SPEAKERS.get(self.channels, 0)) + struct.pack("<H", tag) + _GUID_TAIL
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
        if tag == WAVE_FORMAT_IEEE_FLOAT:
            chunks += b"fact" + struct.pack("<II", 4, self.frames)
        chunks += b"data" + struct.pack("<I", data_bytes)
        return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data_bytes + data_bytes % 2) + b"WAVE" + chunks
