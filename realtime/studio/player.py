"""What the studio adds to the live host's callback: a file player that feeds the processor, the
record of the knob during a take, and a tap that keeps the latest dry and wet audio for the page.

::

    player = FilePlayer(audio)          # (channels, samples) float32 at the host's rate
    host.source = player                # the callback reads the file instead of the device input
    player.play()                       # from the position; the processor restarts on a fresh grid
    player.knob_points(rate)            # the take's knob as (seconds, c) breakpoints

Transport. ``play`` asks the callback to reset the processor and the mixer before the next
block (a take starts on a fresh frame grid and a silent dry delay, exactly as an offline render
of the file does), then the file is read block by block; at its end it stops, or wraps when
``loop`` is on. Seeking moves the position at the next block.

The take. A take is the audition of the file from its first sample: while it plays, the
callback notes the texture each block used and the file position where that block started,
whenever it differs from the last one noted. :meth:`knob_points` turns that into breakpoints
that reproduce the per-block steps exactly under linear interpolation (each change is a pair of
points one sample apart), which is what ``cak render --automation`` reads from a CSV. A take
ends at the end of the file, at a wrap, a seek or a stop.

Everything the callback touches is preallocated here and the per-sample work is jitted.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True}
# int64 state slots
POS, PLAYING, LOOP, RESTART, SEEK, RECORDING, POINTS, TAKE_END = range(8)
NO_SEEK = -1
MAX_POINTS = 1 << 18
TAP_SAMPLES = 1 << 15


@njit(**_JIT)
def _read(audio, state, out):
    """Fill ``out`` (channels, n) from ``audio`` at the position; advance, wrap or stop."""
    channels, n = out.shape
    length = audio.shape[1]
    i = 0
    while i < n:
        if state[PLAYING] == 0:
            for ch in range(channels):
                out[ch, i] = 0.0
            i += 1
            continue
        pos = state[POS]
        take = min(n - i, length - pos)
        for ch in range(channels):
            for k in range(take):
                out[ch, i + k] = audio[ch, pos + k]
        i += take
        pos += take
        if pos >= length:
            pos = 0
            if state[RECORDING] == 1:
                state[RECORDING] = 0
                state[TAKE_END] = length
            if state[LOOP] == 0:
                state[PLAYING] = 0
        state[POS] = pos


@njit(**_JIT)
def _note_knob(state, positions, values, texture):
    """Note the texture of the block starting at the position, if it changed."""
    count = state[POINTS]
    if count >= positions.shape[0]:
        state[RECORDING] = 0
        state[TAKE_END] = state[POS]
        return
    if count == 0 or values[count - 1] != texture:
        positions[count] = state[POS]
        values[count] = texture
        state[POINTS] = count + 1


@njit(**_JIT)
def _tap(dry, wet, ring, index):
    """Append the channel means of ``dry`` and ``wet`` to the two rows of ``ring``."""
    channels, n = dry.shape
    size = ring.shape[1]
    at = index[0]
    for i in range(n):
        d = 0.0
        w = 0.0
        for ch in range(channels):
            d += dry[ch, i]
            w += wet[ch, i]
        ring[0, (at + i) % size] = d / channels
        ring[1, (at + i) % size] = w / channels
    index[0] = at + n


def _layouts(channels: int) -> tuple[np.ndarray, ...]:
    """Blocks in every layout the callback hands over (C, Fortran: a transposed device buffer,
    strided: a slice of a preallocated block), so that each compiles before the stream starts."""
    block = np.zeros((channels, 2), np.float32)
    return block, np.asfortranarray(block), np.zeros((channels, 4), np.float32)[:, ::2]


class FilePlayer:
    """Plays ``audio`` (channels, samples) float32, already at the host's rate and channel count."""

    def __init__(self, audio: np.ndarray, loop: bool = True) -> None:
        audio = np.ascontiguousarray(audio, np.float32)
        if audio.ndim != 2 or audio.shape[1] == 0:
            raise ValueError(f"a player needs (channels, samples) audio, got {audio.shape}")
        self.audio = audio
        self.state = np.zeros(8, np.int64)
        self.state[SEEK] = NO_SEEK
        self.state[LOOP] = int(loop)
        self._positions = np.zeros(MAX_POINTS, np.int64)
        self._values = np.zeros(MAX_POINTS, np.float64)
        for out in _layouts(audio.shape[0]):
            _read(audio, np.zeros(8, np.int64), out)
        _note_knob(np.zeros(8, np.int64), np.zeros(1, np.int64), np.zeros(1), 0.0)

    @property
    def length(self) -> int:
        return int(self.audio.shape[1])

    # -- transport (any thread) -------------------------------------------------------------
    def play(self) -> None:
        """Start playing from the position; a take is recorded when that is the file's start."""
        st = self.state
        st[PLAYING] = 0
        if st[POS] == 0:
            st[POINTS] = 0
            st[TAKE_END] = 0
            st[RECORDING] = 1
        else:
            st[RECORDING] = 0
        st[RESTART] = 1
        st[PLAYING] = 1

    def stop(self, rewind: bool = True) -> None:
        """Stop (the engine's tail rings out); back to the start unless ``rewind`` is False."""
        st = self.state
        st[PLAYING] = 0
        self._end_take()
        if rewind:
            st[POS] = 0

    def seek(self, sample: int) -> None:
        """Move to ``sample`` (clamped to the file); ends the take."""
        self._end_take()
        self.state[SEEK] = min(max(int(sample), 0), self.length - 1)
        if not self.playing:
            self.state[POS] = self.state[SEEK]
            self.state[SEEK] = NO_SEEK

    def _end_take(self) -> None:
        st = self.state
        if st[RECORDING]:
            st[RECORDING] = 0
            st[TAKE_END] = st[POS]

    @property
    def loop(self) -> bool:
        return bool(self.state[LOOP])

    @loop.setter
    def loop(self, value: bool) -> None:
        self.state[LOOP] = int(bool(value))

    @property
    def playing(self) -> bool:
        return bool(self.state[PLAYING])

    @property
    def position(self) -> int:
        return int(self.state[POS])

    # -- the audio callback --------------------------------------------------------------------
    feeding = True  # the host reads this player instead of the device input

    def restart_pending(self) -> bool:
        """True once after :meth:`play`: the host resets its processor before this block."""
        if self.state[RESTART]:
            self.state[RESTART] = 0
            return True
        return False

    def block_starts(self, frames: int, texture: float) -> None:
        """A block begins with this texture: apply a pending seek, note the knob during a take."""
        st = self.state
        if st[SEEK] != NO_SEEK:
            st[POS] = st[SEEK]
            st[SEEK] = NO_SEEK
        if st[RECORDING] and st[PLAYING]:
            _note_knob(st, self._positions, self._values, texture)

    def read(self, out: np.ndarray) -> None:
        _read(self.audio, self.state, out)

    # -- the take ----------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return bool(self.state[RECORDING])

    def knob_points(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """The last take's knob as (seconds, c) breakpoints that give its per-block steps under
        linear interpolation; empty arrays when no take was recorded."""
        count = int(self.state[POINTS])
        positions, values = self._positions[:count].copy(), self._values[:count].copy()
        if count == 0:
            return np.zeros(0), np.zeros(0)
        samples, knob = [positions[0]], [values[0]]
        for at, value in zip(positions[1:], values[1:]):
            samples += [at - 1, at]
            knob += [knob[-1], value]
        return np.asarray(samples, np.float64) / float(sample_rate), np.asarray(knob, np.float64)


class Tap:
    """The latest :data:`TAP_SAMPLES` of the dry input and the output (channel means), for the
    scrolling spectrogram. ``write`` runs in the callback; ``latest`` reads from another thread
    (a torn read at worst smears one column of the picture, never the audio)."""

    def __init__(self, channels: int) -> None:
        self.ring = np.zeros((2, TAP_SAMPLES), np.float32)
        self.index = np.zeros(1, np.int64)
        for dry in _layouts(channels):
            for wet in _layouts(channels):
                _tap(dry, wet, np.zeros((2, 4), np.float32), np.zeros(1, np.int64))

    def write(self, dry: np.ndarray, wet: np.ndarray) -> None:
        _tap(dry, wet, self.ring, self.index)

    def latest(self, n: int) -> tuple[np.ndarray, int]:
        """The last ``n`` samples of (dry, wet), shape (2, n), and the total written so far."""
        end = int(self.index[0])
        stop = end % TAP_SAMPLES
        if stop >= n:
            return self.ring[:, stop - n:stop].copy(), end
        return np.concatenate([self.ring[:, TAP_SAMPLES - (n - stop):], self.ring[:, :stop]], axis=1), end
