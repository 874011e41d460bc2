"""The processor contract every streaming part of cak implements, after JUCE's ``AudioProcessor``.

::

    processor.prepare(sample_rate=48000, max_block=256, channels=2)   # allocate, compile, warm
    processor.texture = 0.8              # the knob (any thread); parts without one ignore it
    out = processor.process(block, out)  # float32 (channels, n), 1 <= n <= max_block; in place allowed
    processor.latency_samples            # output sample i is input sample i - latency_samples
    tail = processor.flush()             # end of stream: everything still inside, (channels, m)
    processor.reset()                    # back to silence, same configuration

Offline rendering is this stream with the first ``latency_samples`` output samples dropped and
the flush appended, so live and offline run the same code. Implemented by
:class:`~cak_dsp.CakEngine`, :class:`~cak_dsp.Cak`, :class:`~cak_dsp.PluginStage`,
:class:`~cak_dsp.Chain` and the live host's program bank; ``tests/test_processor_contract.py``
checks every one of them against this contract.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Processor(Protocol):
    """A streaming audio processor with a fixed, reported latency."""

    @property
    def latency_samples(self) -> int:
        """Exact delay from input to output in samples (after ``prepare``)."""
        ...

    @property
    def texture(self) -> float:
        """The texture knob ``c`` (0..2); settable from any thread."""
        ...

    @texture.setter
    def texture(self, value: float) -> None:
        ...

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Allocate everything for blocks of up to ``max_block`` samples of ``channels`` channels."""
        ...

    def process(self, block: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Process ``block`` (channels, n) into ``out`` (may be ``block``); returns ``out``."""
        ...

    def flush(self) -> np.ndarray:
        """End the stream: the output samples still inside, shaped (channels, m)."""
        ...

    def reset(self) -> None:
        """Clear all audio state; configuration and texture are kept."""
        ...
