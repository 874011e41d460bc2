"""A pedalboard plugin as a chain stage, streamed block by block with a fixed latency.

:class:`PluginStage` runs any pedalboard plugin (a built-in such as ``HighpassFilter`` or a
VST3/AU from ``load_plugin``) block by block with ``reset=False``, so its state carries
across blocks. pedalboard hands back a latency-reporting plugin's output already aligned,
but holds samples back until they are ready; the stage primes a FIFO with the largest
hold-back measured in ``prepare`` so that every block comes out full and the stage has a
fixed latency, as a host needs. pedalboard re-prepares a plugin (and loses its state)
whenever a block is longer than any since its last reset, so after every reset the stage
runs one silent block of ``max_block`` samples through it and discards what comes out:
then blocks of any size up to ``max_block`` give the same result as one long call.
"""
from __future__ import annotations

import numpy as np

PROBE_SECONDS = 1.0


class StageError(ValueError):
    """A stage that cannot run in a stream (one line, naming the stage)."""


class PluginStage:
    """A pedalboard plugin streamed block by block with a fixed, reported latency."""

    def __init__(self, plugin) -> None:
        self.plugin = plugin
        self._texture = 0.0
        self.latency_samples = 0
        self.underruns = 0
        self._fifo = np.zeros((1, 0), np.float32)
        self._fill = 0
        self._fed = 0
        self._emitted = 0
        self._discard = 0

    def __repr__(self) -> str:
        return f"PluginStage({self.plugin!r})"

    @property
    def name(self) -> str:
        return type(self.plugin).__name__

    @property
    def texture(self) -> float:
        """A plugin has no texture knob; the value is kept only for the processor contract."""
        return self._texture

    @texture.setter
    def texture(self, value: float) -> None:
        self._texture = float(value)

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Measure how many samples the plugin holds back, then allocate the FIFO."""
        self.sample_rate = int(sample_rate)
        self.max_block = int(max_block)
        self.channels = int(channels)
        self.latency_samples = self._probe_hold_back()
        self._fifo = np.zeros((channels, self.latency_samples + self.max_block), np.float32)
        self.reset()

    def _probe_hold_back(self) -> int:
        """Largest number of samples the plugin keeps back while streaming silence."""
        probe = max(int(PROBE_SECONDS * self.sample_rate), 4 * self.max_block)
        worst = 0
        for size in sorted({self.max_block, min(self.max_block, 64), min(self.max_block, 263)}):
            size = max(size, self.channels + 1)
            self._discard = self._reset_plugin()
            fed = emitted = 0
            zeros = np.zeros((self.channels, size), np.float32)
            while fed < probe:
                emitted += self._owed(self._run(zeros)).shape[1]
                fed += size
                worst = max(worst, fed - emitted)
            if emitted == 0:
                raise StageError(f"{self.name}: produced no output when streamed block by block "
                                 f"(pedalboard cannot run it in a chain); remove it from the chain")
        return worst

    def _reset_plugin(self) -> int:
        """Reset the plugin and prepare it for ``max_block``; returns the primer samples still owed."""
        self.plugin.reset()
        primer = np.zeros((self.channels, max(self.max_block, self.channels + 1)), np.float32)
        return primer.shape[1] - self._run(primer).shape[1]

    def _run(self, block: np.ndarray) -> np.ndarray:
        return self.plugin.process(block, self.sample_rate, buffer_size=self.max_block, reset=False)

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` (channels, n) into ``out``; n must exceed the channel count so that
        pedalboard reads the layout right."""
        n = block.shape[1]
        if self.channels > 1 and (n < self.channels or (n == self.channels and self._fed == 0)):
            raise StageError(f"{self.name}: blocks must be longer than the channel count ({self.channels}), got {n}")
        y = self._owed(self._run(block))
        self._fed += n
        self._emitted += y.shape[1]
        if self.latency_samples == 0 and y.shape[1] == n and self._fill == 0:
            out[...] = y
            return out
        m = y.shape[1]
        self._fifo[:, self._fill:self._fill + m] = y
        self._fill += m
        ready = min(n, self._fill)
        out[:, :ready] = self._fifo[:, :ready]
        if ready < n:
            out[:, ready:] = 0.0
            self.underruns += 1
        self._fifo[:, :self._fill - ready] = self._fifo[:, ready:self._fill]
        self._fill -= ready
        return out

    def flush(self) -> np.ndarray:
        """Everything still inside: streams silence until the plugin has given back all it holds."""
        owed = self._fed
        size = max(self.max_block, self.channels + 1)
        zeros = np.zeros((self.channels, size), np.float32)
        parts = [self._fifo[:, :self._fill].copy()]
        limit = owed + self.latency_samples + 4 * size
        while self._emitted < owed and self._fed < limit:
            y = self._owed(self._run(zeros))
            self._fed += size
            self._emitted += y.shape[1]
            parts.append(y)
        self._fill = 0
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    def _owed(self, y: np.ndarray) -> np.ndarray:
        """Drop what is still owed of the primer's output from the front of ``y``."""
        if self._discard:
            drop = min(self._discard, y.shape[1])
            self._discard -= drop
            y = y[:, drop:]
        return y

    def reset(self) -> None:
        self._discard = self._reset_plugin()
        self._fifo.fill(0)
        self._fill = self.latency_samples
        self._fed = 0
        self._emitted = 0
        self.underruns = 0
