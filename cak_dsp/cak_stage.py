"""The CAK effect as a chain stage and a pedalboard-style callable.

:class:`Cak` speaks the engine's streaming language (``prepare``, ``process(block, out)``,
``flush``, ``reset``, ``latency_samples``) and on its own is also a pedalboard-style effect:
``Cak("drums", texture=0.8)(audio, sample_rate)`` returns the aligned float32 render.
"""
from __future__ import annotations

import numpy as np

from . import arrays
from .engine import SAMPLE_LIMIT, CakEngine
from .level import DEFAULT_LEVEL, OutputStage, check_level, match_gain
from .normalization import DEFAULT_MODE
from .preset import Preset


class Cak:
    """The CAK effect: a pedalboard-style callable and a streaming chain stage.

    ``preset`` is a :class:`Preset`, a preset file or a shipped preset name; ``texture`` is the
    amount ``c`` (0 is the identity); ``mode`` is ``"gain"`` (default) or ``"reference"`` (see
    :mod:`cak_dsp.normalization`); ``level`` is ``"match"`` (default), ``"follow"`` or ``"off"``
    and ``soft_clip`` the published output soft clip (see :mod:`cak_dsp.level`); ``geometry``
    is ``"standard"`` or ``"low-latency"`` (see :mod:`cak_dsp.geometry`).

    As a stage: the engine, then the output stage (match gain, soft clip). With
    ``level="match"`` the gain comes from a measuring pass over the whole signal
    (:meth:`start_measuring`, :meth:`finish_measuring`), which :class:`~cak_dsp.Chain` and the
    file renderer run before the real one; until measured it is 1.
    """

    def __init__(self, preset: Preset | str = "drums", texture: float = 0.8, mode: str = DEFAULT_MODE,
                 level: str = DEFAULT_LEVEL, soft_clip: bool = True, geometry: str = "standard") -> None:
        if not isinstance(preset, Preset):
            from .presets import resolve_preset

            preset = resolve_preset(str(preset))
        self.preset = preset
        self.mode = mode
        self.geometry = geometry
        self.engine = CakEngine(preset, mode=mode, geometry=geometry)
        self.output = OutputStage(preset.threshold, preset.temperature, ceiling=SAMPLE_LIMIT)
        self.level = level
        self.soft_clip = soft_clip
        self._knob = np.zeros(1)
        self.texture = texture  # the engine checks the range
        self._energy = np.zeros(2)
        self._measuring = False
        self._emitted = 0
        self._fed = 0
        self._channels: int | None = None
        self._nonfinite_before = 0

    def __repr__(self) -> str:
        return (f"Cak(preset={self.preset.name!r}, texture={self.texture:g}, mode={self.mode!r}, "
                f"level={self.level!r}, soft_clip={self.soft_clip})")

    def __call__(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        """Render ``audio`` (channels, samples) offline; float32, aligned, same length (see
        :mod:`cak_dsp.arrays` for the sample types and layouts accepted)."""
        from .render import render

        return render(audio, sample_rate, self.preset, self.texture, mode=self.mode, level=self.level,
                      soft_clip=self.soft_clip, geometry=self.geometry)

    @property
    def texture(self) -> float:
        """The texture ``c`` (safe to set from any thread; read once per frame)."""
        return self.engine.texture

    @texture.setter
    def texture(self, value: float) -> None:
        self.engine.texture = value
        self._knob[0] = self.engine.texture

    @property
    def level(self) -> str:
        """``"match"``, ``"follow"`` or ``"off"`` (see :mod:`cak_dsp.level`); set between streams."""
        return self._level

    @level.setter
    def level(self, value: str) -> None:
        self._level = check_level(value)
        self.output.follow = value == "follow"
        self.output.gain = 1.0

    @property
    def soft_clip(self) -> bool:
        """Whether the published soft clip (blended in by the gate) ends the stage."""
        return self.output.soft_clip

    @soft_clip.setter
    def soft_clip(self, value: bool) -> None:
        self.output.soft_clip = value

    @property
    def latency_samples(self) -> int:
        return self.engine.latency_samples

    @property
    def match_gain(self) -> float:
        """The linear gain the output stage applies (``level="match"``: the measured one)."""
        return self.output.gain

    @property
    def nonfinite_samples(self) -> int:
        """Output samples the engine computed as NaN or infinite and silenced (since the last
        :meth:`clear_nonfinite`); 0 for an engine that does not count them."""
        return max(getattr(self.engine, "nonfinite_samples", 0) - self._nonfinite_before, 0)

    def clear_nonfinite(self) -> None:
        """Start counting :attr:`nonfinite_samples` from 0."""
        self._nonfinite_before = getattr(self.engine, "nonfinite_samples", 0)

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        sample_rate, max_block, channels = arrays.check_prepare(sample_rate, max_block, channels)
        self.engine.prepare(sample_rate, max_block, channels)
        self.output.prepare(sample_rate, max_block, channels, self.latency_samples)
        self._max_block = max_block
        self._channels = channels
        self._nonfinite_before = 0
        self.reset()

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` into ``out`` (may be the same array); ``texture`` is an optional
        per-sample curve (offline automation) that overrides the knob for this block."""
        if self._channels is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before processing")
        block = arrays.block(block, self._channels, self._max_block)
        out = arrays.out_block(out, block.shape)
        if self._measuring:
            self._fed += block.shape[1]
            self._energy[0] += float(np.sum(np.square(block, dtype=np.float64)))
        self.output.push_dry(block)
        if texture is None:
            self.engine.process(block, out=out)
            controls, stride = self._knob, 0
        else:
            out[...] = self.engine.process_automated(block, texture)
            controls, stride = np.ascontiguousarray(texture, dtype=np.float64), 1
        if self._measuring:
            self._count_output(out)
        return self.output.process(out, out, controls, stride)

    def flush(self) -> np.ndarray:
        tail = self.engine.flush()
        if self._measuring:
            self._count_output(tail)
        for at in range(0, tail.shape[1], self._max_block):
            part = tail[:, at:at + self._max_block]
            self.output.push_dry(np.zeros(part.shape, np.float32))
            self.output.process(part, part, self._knob, 0)
        return tail

    def reset(self) -> None:
        self.engine.reset()
        self.output.reset()
        self._emitted = 0

    # -- the whole-signal level match ------------------------------------------------------
    def start_measuring(self) -> None:
        """Measure the stage's input and output energy until :meth:`finish_measuring`."""
        self.reset()
        self._energy[:] = 0.0
        self._fed = 0
        self._measuring = True

    def finish_measuring(self) -> float:
        """Stop measuring (after ``flush``); with ``level="match"`` set the gain; returns it."""
        self._measuring = False
        gain = match_gain(self._energy[0], self._energy[1], self.engine.energies)
        self.output.gain = gain if self.level == "match" else 1.0
        return self.output.gain

    def _count_output(self, out: np.ndarray) -> None:
        """Add the energy of the output samples that line up with input samples."""
        n = out.shape[1]
        lo = max(self.latency_samples - self._emitted, 0)
        hi = min(self.latency_samples + self._fed - self._emitted, n)
        if hi > lo:
            self._energy[1] += float(np.sum(np.square(out[:, lo:hi], dtype=np.float64)))
        self._emitted += n
