"""Program Change: several CAK engines behind one engine interface, switched with a crossfade.

::

    bank = ProgramBank([drums, drums_causal, melodic])
    bank.prepare(48000, max_block=256, channels=2)      # every engine prepared and warmed here
    bank.select(2)                                      # any thread, lock-free (one float64 slot)
    bank.process(block, out)                            # the audio callback; in place allowed

A :class:`ProgramBank` implements the processor contract (:mod:`cak_dsp.processor`) and the
engine's ``process_automated``, so a chain's CAK stage runs it as its engine, live or offline.

Latency. Engines of different presets can have different latencies (a causal preset has no
look-ahead: 2230 instead of 2787 samples at 48 kHz). Each engine's output goes through a delay
line of ``latency - its own latency`` samples, so all of them are aligned to the largest
latency, which is the bank's reported latency whichever program plays. Old and new outputs
are therefore sample-aligned during a crossfade (no comb filtering) and the latency does not
change when the program does.

Switching. Only the active engine runs. On a program change the incoming engine is reset (so
it cannot replay stale audio from the last time it played) and runs beside the active one,
silently, until it has heard a full analysis context: ``latency + n_fft + tap_spacing`` samples
(the kernel reads frames one trained hop away; 116 ms at 48 kHz in the standard geometry, 73 ms
in the low-latency one), after which its output is exactly what an engine that had
been running all along would produce (on its own frame grid). Only then does the crossfade
start, so the fade never dips into the silence a freshly reset engine outputs for its first
``latency`` samples, nor into its first, partial frames. The crossfade is linear over
``fade_ms`` (40 ms): CAK resynthesizes every frame with the input's phase, so two presets' outputs
are in phase bin by bin and a constant-amplitude (linear) fade keeps the level, where an
equal-power fade would bulge by up to 3 dB (at c = 0 both outputs are the input itself, and the
linear fade is exactly the identity). Once the fade ends the old engine stops running. A
program change during the warm-up retargets it; one during the fade is taken up when it ends.

Everything the callback touches is allocated in ``prepare``; the switch bookkeeping is a few
integer slots, the delay lines and the fade run in jitted code, and a reset is a few ``fill``
calls on preallocated arrays.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from cak_dsp import CakEngine, Preset
from cak_dsp.delay import DelayLine
from cak_dsp.normalization import DEFAULT_MODE
from cak_dsp.texture import check_texture

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
FADE_MS = 40.0

# integer state slots
_ACTIVE, _INCOMING, _ELAPSED, _SWITCHED_AT, _PROCESSED, _SWITCHES = range(6)


@njit(**_JIT)
def _crossfade(out, incoming, start, length):
    """``out = (1 - g) * out + g * incoming`` with ``g`` rising linearly from 0 at fade sample 0
    to 1 at fade sample ``length``; ``start`` is the fade sample of the block's first sample."""
    channels, n = out.shape
    for i in range(n):
        g = min(max((start + i) / length, 0.0), 1.0)
        for ch in range(channels):
            out[ch, i] = (1.0 - g) * out[ch, i] + g * incoming[ch, i]


class ProgramBank:
    """Engines for ``presets`` (program ``i`` is ``presets[i]``); starts on program 0."""

    def __init__(self, presets: Sequence[Preset], mode: str = DEFAULT_MODE, fade_ms: float = FADE_MS,
                 geometry: str = "standard") -> None:
        if not presets:
            raise ValueError("a program bank needs at least one preset")
        if fade_ms <= 0:
            raise ValueError(f"fade_ms must be positive, got {fade_ms}")
        self.presets = list(presets)
        self.engines = [CakEngine(p, mode=mode, geometry=geometry) for p in self.presets]
        self.fade_ms = float(fade_ms)
        self._target = np.zeros(1, np.float64)
        self._state = np.zeros(6, np.int64)
        self._latency = 0

    # -- configuration -------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Prepare and warm every engine, allocate the delay lines and the fade buffer."""
        for engine in self.engines:
            engine.prepare(sample_rate, max_block, channels)
        self._latency = max(e.latency_samples for e in self.engines)
        self._lines = [DelayLine(channels, self._latency - e.latency_samples) for e in self.engines]
        self._warm_samples = [self._latency + e.geometry.n_fft + e.geometry.tap_spacing for e in self.engines]
        self.fade_samples = max(int(round(self.fade_ms * 1e-3 * sample_rate)), 1)
        self._scratch = np.zeros((channels, max_block), np.float32)
        self._out = np.zeros((channels, max_block), np.float32)
        warm = np.zeros((channels, 2), np.float32)
        _crossfade(warm, warm.copy(), -1, 2)
        self.reset()

    def reset(self) -> None:
        """Silence every engine and delay line; the selected program becomes active at once."""
        for index in range(len(self.engines)):
            self._reset_engine(index)
        selected = int(self._target[0])
        self._state[:] = 0
        self._state[_ACTIVE] = selected
        self._state[_INCOMING] = -1

    def _reset_engine(self, index: int) -> None:
        self.engines[index].reset()
        self._lines[index].reset()

    # -- controls (any thread) -------------------------------------------------------------
    def select(self, index: int) -> None:
        """Ask for program ``index`` (0-based into ``presets``); the callback switches to it."""
        if not 0 <= index < len(self.engines):
            raise ValueError(f"no program {index}; the bank has {len(self.engines)}")
        self._target[0] = index

    @property
    def selected(self) -> int:
        """The program asked for last."""
        return int(self._target[0])

    @property
    def active(self) -> int:
        """The program playing now (until a crossfade to another one completes)."""
        return int(self._state[_ACTIVE])

    @property
    def switching(self) -> bool:
        return bool(self._state[_INCOMING] >= 0)

    @property
    def switches(self) -> int:
        """Completed program switches."""
        return int(self._state[_SWITCHES])

    @property
    def last_switch_at(self) -> int:
        """Samples processed before the incoming engine of the latest switch was reset."""
        return int(self._state[_SWITCHED_AT])

    def warm_samples(self, index: int) -> int:
        """Samples from a switch to program ``index`` until its crossfade starts."""
        return self._warm_samples[index]

    @property
    def texture(self) -> float:
        return self.engines[self.active].texture

    @texture.setter
    def texture(self, value: float) -> None:
        value = check_texture(value)  # refused, as by the engine it stands in for (cak_dsp.texture)
        for engine in self.engines:
            engine.texture = value

    @property
    def latency_samples(self) -> int:
        """The largest latency of the bank's engines: every program is delayed to it."""
        return self._latency

    @property
    def geometry(self):
        """The frame geometry of the active program's engine."""
        return self.engines[self.active].geometry

    # -- processing (the audio callback) ------------------------------------------------------
    def process(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` (channels, n <= max_block) into ``out`` (may be ``block``)."""
        return self._process(block, self._out[:, :block.shape[1]] if out is None else out, None)

    def process_automated(self, block: np.ndarray, texture: np.ndarray) -> np.ndarray:
        """Process a block with a per-sample texture curve (offline automation), as the engine does."""
        return self._process(block, np.empty(block.shape, np.float32), texture)

    def flush(self) -> np.ndarray:
        """End the stream: the active engine's remaining output, through its delay line."""
        index = self.active
        tail = self.engines[index].flush()
        line = self._lines[index]
        out = np.concatenate([tail, np.zeros((tail.shape[0], line.samples), np.float32)], axis=1)
        return line.process(out, out)

    def _process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None) -> np.ndarray:
        n = block.shape[1]
        st = self._state
        active = st[_ACTIVE]
        if texture is None and st[_INCOMING] < 0 and self._target[0] == active:
            # no switch asked for or running (the usual block): the active engine and its delay line
            self.engines[active].process(block, out=out)
            line = self._lines[active]
            if line.samples:
                line.process(out, out)
            st[_PROCESSED] += n
            return out
        self._follow_target()
        incoming = int(st[_INCOMING])
        if incoming >= 0:
            scratch = self._scratch[:, :n]
            self._run(incoming, block, scratch, texture)
        self._run(int(st[_ACTIVE]), block, out, texture)
        if incoming >= 0:
            fade_at = int(st[_ELAPSED]) - self._warm_samples[incoming]
            if fade_at + n > 0:
                _crossfade(out, scratch, fade_at, self.fade_samples)
            st[_ELAPSED] += n
            if fade_at + n >= self.fade_samples:
                st[_ACTIVE] = incoming
                st[_INCOMING] = -1
                st[_SWITCHES] += 1
        st[_PROCESSED] += n
        return out

    def _follow_target(self) -> None:
        """Start, retarget or cancel a switch according to the selected program."""
        st = self._state
        target, active, incoming = int(self._target[0]), int(st[_ACTIVE]), int(st[_INCOMING])
        if incoming >= 0 and st[_ELAPSED] >= self._warm_samples[incoming]:
            return  # fading: finish first
        if target == active:
            st[_INCOMING] = -1
        elif target != incoming:
            self._reset_engine(target)
            st[_INCOMING] = target
            st[_ELAPSED] = 0
            st[_SWITCHED_AT] = st[_PROCESSED]

    def _run(self, index: int, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None) -> None:
        engine = self.engines[index]
        if texture is None:
            engine.process(block, out=out)
        else:
            out[...] = engine.process_automated(block, texture)
        self._lines[index].process(out, out)
