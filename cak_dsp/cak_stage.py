"""The CAK effect as a chain stage and a pedalboard-style callable.

:class:`Cak` speaks the engine's streaming language (``prepare``, ``process(block, out)``,
``flush``, ``reset``, ``latency_samples``) and on its own is also a pedalboard-style effect:
``Cak("drums", texture=0.8)(audio, sample_rate)`` returns the aligned float32 render.
"""
from __future__ import annotations

import numpy as np

from .engine import CakEngine
from .preset import Preset


class Cak:
    """The CAK effect: a pedalboard-style callable and a streaming chain stage.

    ``preset`` is a :class:`Preset`, a preset file or a shipped preset name; ``texture`` is the
    amount ``c`` (0 is the identity); ``mode`` is ``"transparent"`` or ``"reference"``;
    ``geometry`` is ``"standard"`` or ``"low-latency"`` (see :mod:`cak_dsp.geometry`).
    """

    def __init__(self, preset: Preset | str = "drums", texture: float = 0.8, mode: str = "transparent",
                 geometry: str = "standard") -> None:
        if not isinstance(preset, Preset):
            from .presets import resolve_preset

            preset = resolve_preset(str(preset))
        self.preset = preset
        self.mode = mode
        self.geometry = geometry
        self.engine = CakEngine(preset, mode=mode, geometry=geometry)
        self.engine.texture = texture  # the engine checks the range

    def __repr__(self) -> str:
        return f"Cak(preset={self.preset.name!r}, texture={self.texture:g}, mode={self.mode!r})"

    def __call__(self, audio: np.ndarray, sample_rate: float) -> np.ndarray:
        """Render ``audio`` (channels, samples) offline; float32, aligned, same length."""
        from .render import render

        return render(audio, int(sample_rate), self.preset, self.texture, self.mode, geometry=self.geometry)

    @property
    def texture(self) -> float:
        """The texture ``c`` (safe to set from any thread; read once per frame)."""
        return self.engine.texture

    @texture.setter
    def texture(self, value: float) -> None:
        self.engine.texture = value

    @property
    def latency_samples(self) -> int:
        return self.engine.latency_samples

    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        self.engine.prepare(sample_rate, max_block, channels)

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` into ``out`` (may be the same array); ``texture`` is an optional
        per-sample curve (offline automation) that overrides the knob for this block."""
        if texture is None:
            return self.engine.process(block, out=out)
        out[...] = self.engine.process_automated(block, texture)
        return out

    def flush(self) -> np.ndarray:
        return self.engine.flush()

    def reset(self) -> None:
        self.engine.reset()
