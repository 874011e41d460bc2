"""The CAK effect as a chain stage and a pedalboard-style callable.

:class:`Cak` speaks the engine's streaming language (``prepare``, ``process(block, out)``,
``flush``, ``reset``, ``latency_samples``) and on its own is also a pedalboard-style effect:
``Cak("drums", texture=0.8)(audio, sample_rate)`` returns the aligned float32 render.
"""
from __future__ import annotations

import numpy as np

from . import arrays
from .channel_threads import ThreadedEngine
from .engine import SAMPLE_LIMIT, CakEngine
from .level import DEFAULT_LEVEL, OutputStage, check_level, match_gain, sum_squares
from .normalization import DEFAULT_MODE
from .preset import Preset

KEEP_BYTES = 256 << 20  # the measuring pass keeps at most this much engine output (12 min of 44.1 kHz stereo)


class Cak:
    """The CAK effect: a pedalboard-style callable and a streaming chain stage.

    ``preset`` is a :class:`Preset`, a preset file or a shipped preset name; ``texture`` is the
    amount ``c`` (0 is the identity); ``mode`` is ``"gain"`` (default) or ``"reference"`` (see
    :mod:`cak_dsp.normalization`); ``level`` is ``"match"`` (default), ``"follow"`` or ``"off"``
    and ``soft_clip`` the published output soft clip (see :mod:`cak_dsp.level`); ``geometry``
    is ``"standard"`` or ``"low-latency"`` (see :mod:`cak_dsp.geometry`). ``threads`` says the
    stage renders offline on that many threads: the channels split over that many engines
    (:mod:`cak_dsp.channel_threads`; the output is the same), and the engines and the output stage
    load their compiled code on first use instead of warming every array layout a host may hand
    over. The offline renderers set it; live hosts leave it None (one engine, warmed before the
    first callback).

    As a stage: the engine, then the output stage (match gain, soft clip). With
    ``level="match"`` the gain comes from a measuring pass over the whole signal
    (:meth:`start_measuring`, :meth:`finish_measuring`), which :class:`~cak_dsp.Chain` and the
    file renderer run before the real one; until measured it is 1.
    """

    def __init__(self, preset: Preset | str = "drums", texture: float = 0.8, mode: str = DEFAULT_MODE,
                 level: str = DEFAULT_LEVEL, soft_clip: bool = True, geometry: str = "standard",
                 threads: int | None = None) -> None:
        if not isinstance(preset, Preset):
            from .presets import resolve_preset

            preset = resolve_preset(str(preset))
        self.preset = preset
        self.mode = mode
        self.geometry = geometry
        self.engine = CakEngine(preset, mode=mode, geometry=geometry)
        self.threads = threads
        self.output = OutputStage(preset.threshold, preset.temperature, ceiling=SAMPLE_LIMIT)
        self.level = level
        self.soft_clip = soft_clip
        self._knob = np.zeros(1)
        self.texture = texture  # the engine checks the range
        self._groups: list[tuple[int, int]] = []
        self._group_outputs: list[OutputStage] = []
        self._energy = np.zeros((1, 2))  # per group of channels: input and output energy while measuring
        self._measuring = False
        self._emitted = 0
        self._fed = 0
        self._kept: list[np.ndarray] | None = None
        self._kept_bytes = 0
        self._replay: list[np.ndarray | None] | None = None
        self._replay_at = 0
        self._discard = False
        self._latency = 0
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
        self._choose_engine(channels)
        if self.threads is None:
            self.engine.prepare(sample_rate, max_block, channels)
        else:
            self.engine.prepare(sample_rate, max_block, channels, warm=False)
        self.output.prepare(sample_rate, max_block, channels, self.latency_samples, warm=self.threads is None)
        self._groups = self.engine.groups if isinstance(self.engine, ThreadedEngine) else [(0, channels)]
        self._group_outputs = []
        if len(self._groups) > 1:
            for a, b in self._groups:
                stage = OutputStage(self.preset.threshold, self.preset.temperature, ceiling=SAMPLE_LIMIT)
                stage.prepare(sample_rate, max_block, b - a, self.latency_samples, warm=False)
                self._group_outputs.append(stage)
        self._energy = np.zeros((len(self._groups), 2))
        self._max_block = max_block
        self._channels = channels
        self._nonfinite_before = 0
        self.reset()

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` into ``out`` (may be the same array); ``texture`` is an optional
        per-sample curve (offline automation) that overrides the knob for this block.

        On several threads (``threads`` > 1) each group of channels runs all that is its own on
        its group's thread: the measuring pass's sums and copy, the engine and, unless the
        follower (which sums over every channel) is on, an output stage of its own, whose numbers
        are the whole stage's for those channels."""
        if self._channels is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before processing")
        block = arrays.block(block, self._channels, self._max_block)
        out = arrays.out_block(out, block.shape)
        self.output.push_dry(block)
        replayed = self._replayed(block.shape) if self._replay is not None else None  # read, no copy
        if texture is None:
            controls, stride = self._knob, 0
        else:
            controls, stride = np.ascontiguousarray(texture, dtype=np.float64), 1
        if len(self._groups) == 1 and not self._measuring:  # a live host's block: the shortest way
            if replayed is None and texture is None:
                self.engine.process(block, out=out)
            elif replayed is None:
                out[...] = self.engine.process_automated(block, texture)
            return self.output.process(out if replayed is None else replayed, out, controls, stride)
        return self._process_groups(block, out, texture, replayed, controls, stride)

    def _process_groups(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None,
                        replayed: np.ndarray | None, controls: np.ndarray, stride: int) -> np.ndarray:
        """:meth:`process` while measuring, or over several groups of channels."""
        n = block.shape[1]
        measuring, kept, lo, hi = self._measuring, None, 0, 0
        if measuring:
            self._fed += n
            lo, hi = self._next_aligned_span(n)
            kept = self._keeping(out)
        outputs = None if measuring and self._discard else self._row_outputs()

        def rows(g: int, engine, a: int, b: int) -> None:
            if measuring:
                self._energy[g, 0] += sum_squares(block[a:b])
            if replayed is None and texture is None:
                engine.process(block[a:b], out=out[a:b])
            elif replayed is None:
                out[a:b] = engine.process_automated(block[a:b], texture)
            if measuring:
                self._measure_output(g, out[a:b], lo, hi, None if kept is None else kept[a:b])
            if outputs:
                outputs[g].process((out if replayed is None else replayed)[a:b], out[a:b], controls, stride)

        self._for_groups(rows)
        if measuring and self._discard:
            return out
        if outputs is None:
            self.output.process(out if replayed is None else replayed, out, controls, stride)
        return out

    def flush(self) -> np.ndarray:
        if self._replay is not None:
            tail = self._replayed(None)
            self._replay = None  # used up: the next stream runs the engine
        else:
            tail = self.engine.flush()
        if self._measuring:
            self._measure_output(0, tail, *self._next_aligned_span(tail.shape[1]), self._keeping(tail))
            if self._discard:
                return tail
        for at in range(0, tail.shape[1], self._max_block):
            part = tail[:, at:at + self._max_block]
            self.output_stage(np.zeros(part.shape, np.float32), part, self._knob, 0)
        return tail

    def output_stage(self, dry: np.ndarray, x: np.ndarray, controls: np.ndarray, stride: int) -> None:
        """The output stage alone, in place over ``x``: the engine's output for the input block
        ``dry``, both (channels, n <= max_block); ``controls`` as in :meth:`process` (the second
        pass of :func:`~cak_dsp.render.render`). On several threads, each group on its own."""
        self.output.push_dry(dry)
        outputs = self._row_outputs()
        if outputs is None:
            self.output.process(x, x, controls, stride)
        else:
            self._for_groups(lambda g, _engine, a, b: outputs[g].process(x[a:b], x[a:b], controls, stride))

    def reset(self) -> None:
        self.engine.reset()
        self.output.reset()
        for stage in self._group_outputs:
            stage.reset()
        self._emitted = 0
        self._replay_at = 0

    def _for_groups(self, work) -> None:
        """``work(group, engine, first_row, end_row)`` for each group of channels, on its thread."""
        if len(self._groups) > 1:
            self.engine.run_groups(work)
        else:
            work(0, self.engine, 0, self._channels)

    def _row_outputs(self) -> list[OutputStage] | None:
        """The output stage of each group of channels, set as the whole stage is; None when the
        whole stage must run over all channels at once (its follower sums over them)."""
        if len(self._groups) == 1:
            return [self.output]
        if self.output.follow:
            return None
        for stage in self._group_outputs:
            stage.copy_settings(self.output)
        return self._group_outputs

    @property
    def replays(self) -> bool:
        """Whether the next stream replays the engine output kept by the measuring pass
        (:meth:`start_measuring`): it then reads only the lengths of its input blocks."""
        return self._replay is not None and not self.output.follow

    def _choose_engine(self, channels: int) -> None:
        """A :class:`ThreadedEngine` when ``threads`` > 1 and there are channels to share, else
        the plain engine (a host's own engine, such as the live program bank, is kept)."""
        threaded = self.threads is not None and self.threads > 1 and channels > 1
        if threaded and not (isinstance(self.engine, ThreadedEngine) and self.engine.threads == self.threads):
            texture = self.engine.texture
            self.engine = ThreadedEngine(self.preset, self.mode, self.geometry, self.threads)
            self.engine.texture = texture
        elif not threaded and isinstance(self.engine, ThreadedEngine):
            texture = self.engine.texture
            self.engine = CakEngine(self.preset, mode=self.mode, geometry=self.geometry)
            self.engine.texture = texture

    # -- the whole-signal level match ------------------------------------------------------
    def start_measuring(self, keep_output: bool = False, discard: bool = False) -> None:
        """Measure the stage's input and output energy until :meth:`finish_measuring`.

        ``keep_output``: also keep the engine's output (up to ``KEEP_BYTES``), so that the next
        stream replays it instead of running the engine again. Only for a stage whose next
        stream gets the very same blocks, automation and end (:meth:`Chain.measure_levels`
        asks it for the chain's first stage when the render adds no tail). ``discard``: nothing
        reads this pass's output (the last stage measured), so the output stage is skipped and
        ``process`` and ``flush`` return the engine's output.
        """
        self.reset()
        self._latency = self.latency_samples
        self._discard = discard
        self._energy[:] = 0.0
        self._fed = 0
        self._measuring = True
        self._replay = None
        self._kept = [] if keep_output else None
        self._kept_bytes = 0

    def finish_measuring(self) -> float:
        """Stop measuring (after ``flush``); with ``level="match"`` set the gain; returns it."""
        self._measuring = False
        self._discard = False
        self._replay, self._kept = self._kept, None
        energy_in, energy_out = self._energy.sum(axis=0)
        gain = match_gain(float(energy_in), float(energy_out), self.engine.energies)
        self.output.gain = gain if self.level == "match" else 1.0
        return self.output.gain

    def _keeping(self, engine_out: np.ndarray) -> np.ndarray | None:
        """While measuring with ``keep_output``: a new array, kept, for a copy of ``engine_out``
        (given up, and memory freed, past ``KEEP_BYTES``); else None."""
        if self._kept is None:
            return None
        self._kept_bytes += engine_out.nbytes
        if self._kept_bytes > KEEP_BYTES:
            self._kept = None
            return None
        kept = np.empty_like(engine_out)
        self._kept.append(kept)
        return kept

    def _replayed(self, shape: tuple[int, int] | None) -> np.ndarray:
        """The kept engine output for the next block (``shape``) or, with None, the flush; the
        stage lets go of it (each is replayed once, and the memory frees as the stream goes)."""
        kept = self._replay[self._replay_at]
        last = self._replay_at == len(self._replay) - 1
        if kept is None or (shape is None) != last or (shape is not None and kept.shape != shape):
            raise RuntimeError("the stream differs from the measured one: the kept engine output cannot be replayed")
        self._replay[self._replay_at] = None
        self._replay_at += 1
        return kept

    def _next_aligned_span(self, n: int) -> tuple[int, int]:
        """The columns of the next ``n`` output samples that line up with input samples; counts
        them as emitted."""
        lo = max(self._latency - self._emitted, 0)
        hi = min(self._latency + self._fed - self._emitted, n)
        self._emitted += n
        return lo, max(hi, lo)

    def _measure_output(self, group: int, out: np.ndarray, lo: int, hi: int, kept: np.ndarray | None) -> None:
        """While measuring: add the energy of ``out``'s aligned columns ``lo:hi`` to ``group``'s
        sum, and copy ``out`` into ``kept`` (its rows of the kept block) when it is kept."""
        if hi > lo:
            self._energy[group, 1] += sum_squares(out[:, lo:hi])
        if kept is not None:
            kept[...] = out
