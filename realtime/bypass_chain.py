"""A chain whose stages can each be bypassed live, without a click and without moving the latency.

::

    chain = BypassChain.of(load_chain("studio.json"))
    host = LiveHost(LiveConfig(preset=None, chain=chain))
    chain.set_bypass(0, True)       # any thread: stage 0 fades (20 ms) to its own input, delayed

Each stage's input also runs through a delay line of that stage's latency, so a bypassed stage
outputs its input exactly as late as its processed output would have been: the chain's latency
(and the mixer's dry compensation) never changes, and the fade is between two aligned signals.
The stages keep running while bypassed, so switching back is seamless. The delay lines, the
fade state and the buffers are allocated in ``prepare``; the fade is jitted, as the mixer's is.
Offline (``measure_levels``) the chain runs as a plain :class:`cak_dsp.Chain`.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from cak_dsp import Chain
from cak_dsp.delay import DelayLine

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}
FADE_MS = 20.0


@njit(**_JIT)
def _fade(out, dry, amounts, targets, index, step):
    """``out = (1 - a) * out + a * dry``, ``a`` ramping towards the target by ``step`` per sample."""
    channels, n = out.shape
    start, target = amounts[index], targets[index]
    a = start
    for ch in range(channels):
        a = start
        for i in range(n):
            a = min(a + step, target) if a < target else max(a - step, target)
            if a > 0.0:
                out[ch, i] = (1.0 - a) * out[ch, i] + a * dry[ch, i]
    amounts[index] = a


class BypassChain(Chain):
    """A :class:`cak_dsp.Chain` with a bypass per stage (see the module docstring)."""

    def __init__(self, stages, names=None) -> None:
        super().__init__(stages, names)
        self._targets = np.zeros(len(self.stages), np.float64)
        self._amounts = np.zeros(len(self.stages), np.float64)
        self._lines: list[DelayLine] = []

    @classmethod
    def of(cls, chain: Chain) -> BypassChain:
        """The same stages, names, controls and file description, with per-stage bypass."""
        result = cls(chain.stages, chain.names)
        result.controls, result.specs, result.base_dir = chain.controls, chain.specs, chain.base_dir
        return result

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        super().prepare(sample_rate, max_block, channels)
        self._lines = [DelayLine(channels, stage.latency_samples) for stage in self.stages]
        self._dry = np.zeros((channels, max_block), np.float32)
        self._amounts[:] = self._targets
        self._step = 1.0 / max(int(FADE_MS * 1e-3 * sample_rate), 1)
        block = np.zeros((channels, 2), np.float32)
        for out in (block, np.asfortranarray(block)):
            _fade(out, self._dry[:, :2], np.zeros(1), np.zeros(1), 0, self._step)

    def set_bypass(self, index: int, on: bool) -> None:
        """Bypass stage ``index`` (0-based) or bring it back; any thread."""
        if not 0 <= index < len(self.stages):
            raise ValueError(f"no stage {index + 1}; the chain has {len(self.stages)}")
        self._targets[index] = 1.0 if on else 0.0

    def bypassed(self) -> list[bool]:
        """Which stages are bypassed (or fading to it)."""
        return [bool(t > 0.5) for t in self._targets]

    def reset(self) -> None:
        """Back to silence; bypassed stages are bypassed at once (no fade)."""
        super().reset()
        for line in self._lines:
            line.reset()
        self._amounts[:] = self._targets

    def _run_stages(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None,
                    stages=None) -> np.ndarray:
        if stages is not None:  # the offline measuring pass
            return super()._run_stages(block, out, texture, stages)
        src = block
        dry = self._dry[:, :block.shape[1]]
        for index, stage in enumerate(self.stages):
            self._lines[index].process(src, dry)  # before the stage, which may work in place
            stage.process(src, out, texture)
            _fade(out, dry, self._amounts, self._targets, index, self._step)
            src = out
        return out
