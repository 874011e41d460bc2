"""A chain: pedalboard plugins and CAK stages in one streaming processor, live or offline.

::

    from pedalboard import Compressor, HighpassFilter
    from cak_dsp import Cak, Chain

    chain = Chain([HighpassFilter(80), Cak("drums", texture=0.8), Compressor(-18, 3)])
    wet = chain(audio, 44100)                   # offline: float32 (channels, samples), aligned

    chain.prepare(48000, max_block=256, channels=2)     # live: the engine's lifecycle
    chain.texture = 1.2                                 # every CAK stage follows the knob
    chain.process(block, out)                           # delayed by chain.latency_samples

The live host and the offline renderer run the very same ``process``: offline rendering is a
stream whose first ``latency_samples`` output samples are dropped and whose end is flushed
stage by stage, so the result lines up with the input sample for sample. Plugin stages
allocate their result arrays (pedalboard's API); CAK stages allocate nothing.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import arrays
from .preset import Preset
from .render import texture_curve
from .cak_stage import Cak
from .plugin_stage import PluginStage, StageError

CHUNK = 1 << 14


def _as_stage(item) -> Cak | PluginStage:
    if isinstance(item, (Cak, PluginStage)):
        return item
    if isinstance(item, Preset):
        return Cak(item)
    import pedalboard

    if isinstance(item, pedalboard.Plugin):
        return PluginStage(item)
    raise TypeError(f"a chain stage must be a pedalboard plugin, a Cak or a Preset, got {type(item).__name__}")


class Chain:
    """Stages in series with the engine's lifecycle and a pedalboard-style ``__call__``.

    ``names`` (one per stage, None for unnamed) let control targets say ``hp.cutoff_frequency_hz``;
    ``controls``, when set (:mod:`cak_dsp.controls`), moves stage parameters at control-block
    boundaries. ``specs`` and ``base_dir`` are the chain file's stage descriptions and folder
    when the chain was loaded from one (:mod:`cak_dsp.chain_save` keeps their fields), and
    ``source`` its path, which a stage's error at ``prepare`` then names.
    """

    def __init__(self, stages: Sequence, names: Sequence[str | None] | None = None) -> None:
        self.stages: list[Cak | PluginStage] = [_as_stage(s) for s in stages]
        if not self.stages:
            raise ValueError("a chain needs at least one stage")
        self.names: list[str | None] = list(names) if names is not None else [None] * len(self.stages)
        if len(self.names) != len(self.stages):
            raise ValueError(f"{len(self.names)} names for {len(self.stages)} stages")
        self.controls = None
        self.specs: list[dict] | None = None
        self.base_dir = None
        self.source: str | None = None
        self._prepared: tuple[int, int, int] | None = None

    def __repr__(self) -> str:
        return f"Chain([{', '.join(map(repr, self.stages))}])"

    # -- the knob ---------------------------------------------------------------------------
    @property
    def cak_stages(self) -> list[Cak]:
        return [s for s in self.stages if isinstance(s, Cak)]

    @property
    def texture(self) -> float:
        """The texture of the first CAK stage (0 if there is none)."""
        cak = self.cak_stages
        return cak[0].texture if cak else 0.0

    @texture.setter
    def texture(self, value: float) -> None:
        """Set every CAK stage's texture (lock-free, any thread)."""
        for stage in self.cak_stages:
            stage.texture = value

    # -- streaming --------------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Prepare every stage; plugin stages measure their hold-back here (and a stage that
        cannot stream is refused: :class:`~cak_dsp.plugin_stage.StageError` naming it)."""
        sample_rate, max_block, channels = arrays.check_prepare(sample_rate, max_block, channels)
        for i, stage in enumerate(self.stages):
            try:
                stage.prepare(sample_rate, max_block, channels)
            except StageError as exc:
                where = f"{self.source}: " if self.source else ""
                raise StageError(f"{where}stage {i + 1}: {exc}") from None
        self._prepared = (sample_rate, max_block, channels)
        if self.controls is not None:
            self.controls.prepare(sample_rate)

    @property
    def latency_samples(self) -> int:
        """Total delay of the chain: the sum of its stages' latencies (after ``prepare``)."""
        self._require_prepared()
        return sum(s.latency_samples for s in self.stages)

    @property
    def max_block(self) -> int:
        return self._require_prepared()[1]

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Run ``block`` (channels, n <= max_block) through every stage into ``out``.

        ``out`` may be ``block`` itself. ``texture`` is an optional per-sample curve for the CAK
        stages (offline automation); it is indexed by the chain's input time, as a knob is.
        With ``controls``, the block runs in parts that end at control-block boundaries. The
        block and ``out`` are checked as :mod:`cak_dsp.arrays` says.
        """
        block = arrays.block(block, self._require_prepared()[2], None)  # each stage checks the length
        out = arrays.out_block(out, block.shape)
        if self.controls is not None:
            return self.controls.process(self._run_stages, block, out, texture)
        return self._run_stages(block, out, texture)

    def _run_stages(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None,
                    stages: Sequence | None = None) -> np.ndarray:
        """``stages`` (default: all) over ``block`` into ``out``, each on the previous one's output."""
        src = block
        for stage in self.stages if stages is None else stages:
            stage.process(src, out, texture)
            src = out
        return out

    def flush(self) -> np.ndarray:
        """End the stream: everything still inside, each stage's remainder run through the rest."""
        pending = None
        for stage in self.stages:
            if pending is not None and pending.shape[1]:
                pending = self._run_long(stage, pending)
            remainder = stage.flush()
            pending = remainder if pending is None else np.concatenate([pending, remainder], axis=1)
        return pending

    # -- what the guards repaired ---------------------------------------------------------
    def repairs(self) -> list[str]:
        """One line per stage that silenced non-finite samples since the last stream began:
        a plugin's input or output (the plugin reset), or a CAK stage's own output."""
        lines = []
        for i, stage in enumerate(self.stages):
            label = f"stage {i + 1} ({self.names[i] or getattr(stage, 'name', None) or type(stage).__name__})"
            if isinstance(stage, PluginStage):
                if stage.repaired_output:
                    lines.append(f"{label}: the plugin produced {stage.repaired_output} NaN or infinite sample(s); "
                                 f"silenced, and the plugin reset {stage.resets} time(s)")
                if stage.repaired_input:
                    lines.append(f"{label}: {stage.repaired_input} NaN or infinite input sample(s) silenced")
            elif stage.nonfinite_samples:
                lines.append(f"{label}: {stage.nonfinite_samples} NaN or infinite output sample(s) silenced "
                             f"(check the preset's numbers)")
        return lines

    def _clear_repairs(self) -> None:
        for stage in self.stages:
            if isinstance(stage, PluginStage):
                stage.repaired_input = stage.repaired_output = stage.resets = 0
            else:
                stage.clear_nonfinite()

    def reset(self) -> None:
        """Back to silence; texture and configuration are kept."""
        for stage in self.stages:
            stage.reset()
        if self.controls is not None:
            self.controls.reset()

    # -- the whole-signal level match --------------------------------------------------------
    @property
    def measures_level(self) -> bool:
        """True when a CAK stage has ``level="match"``: offline renders then take two passes."""
        return any(stage.level == "match" for stage in self.cak_stages)

    def measure_levels(self, blocks: Iterable[np.ndarray],
                       texture: Callable[[int, int], np.ndarray] | None = None, replay: bool = False) -> None:
        """The first pass of a ``level="match"`` render: stream ``blocks`` through the stages up
        to the last matching CAK stage and set each one's gain from the energies it saw.

        Give the same blocks and automation as the real pass (:meth:`stream`) will get; the
        chain's ``controls`` move the stage parameters in this pass as in the real one. With
        ``replay`` (the next :meth:`stream` gets those very blocks and no ``tail``), a first
        stage that is CAK keeps its engine's output (up to ``cak_stage.KEEP_BYTES``) and the
        real pass replays it: the engine runs once, and the output is the same.
        """
        self._require_prepared()
        last = max(i for i, s in enumerate(self.stages) if isinstance(s, Cak) and s.level == "match")
        prefix = self.stages[:last + 1]
        run = functools.partial(self._run_stages, stages=prefix)
        self.reset()
        for i, stage in enumerate(prefix):
            if isinstance(stage, Cak):
                stage.start_measuring(keep_output=replay and i == 0, discard=i == last)
        fed = 0
        for block in blocks:
            block = np.asarray(block, np.float32)
            for at in range(0, block.shape[1], self.max_block):
                part = block[:, at:at + self.max_block]
                out = np.empty(part.shape, np.float32)
                curve = texture(fed, part.shape[1]) if texture is not None else None
                if self.controls is not None:
                    self.controls.process(run, part, out, curve)
                else:
                    run(part, out, curve)
                fed += part.shape[1]
        if texture is not None and fed:
            for stage in prefix:
                if isinstance(stage, Cak):
                    stage.texture = float(texture(fed - 1, 1)[0])
        pending = None
        for stage in prefix:
            if pending is not None and pending.shape[1]:
                pending = self._run_long(stage, pending)
            remainder = stage.flush()
            pending = remainder if pending is None else np.concatenate([pending, remainder], axis=1)
        for stage in prefix:
            if isinstance(stage, Cak):
                stage.finish_measuring()
        self.reset()

    @property
    def replays_input(self) -> bool:
        """True when the next :meth:`stream` replays the engine output that a first CAK stage
        kept in :meth:`measure_levels`: nothing in the chain then reads the input's samples,
        only the lengths of its blocks (a file renderer hands it silence of those lengths)."""
        first = self.stages[0]
        return isinstance(first, Cak) and first.replays

    def _run_long(self, stage, audio: np.ndarray) -> np.ndarray:
        out = np.empty_like(audio)
        for at in range(0, audio.shape[1], self.max_block):
            stage.process(audio[:, at:at + self.max_block], out[:, at:at + self.max_block])
        return out

    # -- offline ----------------------------------------------------------------------------
    def stream(self, blocks: Iterable[np.ndarray], texture: Callable[[int, int], np.ndarray] | None = None,
               tail: int = 0) -> Iterator[np.ndarray]:
        """Render an iterable of (channels, n) blocks; yields output aligned with the input.

        The output has as many samples as the input plus ``tail`` (kept reverb and delay tails).
        ``texture(start, count)`` gives the per-sample texture curve for input samples
        ``start .. start + count`` (automation); without it, the stages keep their own texture,
        and after the input the last value holds. The chain must be prepared; it is reset
        before the stream and needs a reset after it. Each block yielded is an array of its own,
        which the chain does not touch again (a writer on another thread may hold it).
        """
        self.reset()
        self._clear_repairs()
        channels = self._require_prepared()[2]
        latency = self.latency_samples
        fed = 0
        emitted = 0

        def run(block: np.ndarray, automated: bool) -> Iterator[np.ndarray]:
            nonlocal fed, emitted
            for at in range(0, block.shape[1], self.max_block):
                part = block[:, at:at + self.max_block]
                out = np.empty(part.shape, np.float32)
                self.process(part, out, texture(fed, part.shape[1]) if automated else None)
                skip = min(max(latency - fed, 0), part.shape[1])
                fed += part.shape[1]
                if skip < part.shape[1]:
                    emitted += part.shape[1] - skip
                    yield out[:, skip:]

        for block in blocks:
            yield from run(np.asarray(block, np.float32), texture is not None)
        expected = fed + tail
        if texture is not None and fed:
            self.texture = float(texture(fed - 1, 1)[0])
        for at in range(0, tail, CHUNK):
            yield from run(np.zeros((channels, min(CHUNK, tail - at)), np.float32), False)
        rest = self.flush()[:, max(latency - fed, 0):]
        yield rest[:, :expected - emitted]

    def __call__(self, audio: np.ndarray, sample_rate: float, texture: float | np.ndarray | None = None,
                 tail: int = 0) -> np.ndarray:
        """Render ``audio`` ((channels, samples) or mono (samples,); sample types and layouts as
        :mod:`cak_dsp.arrays` says) offline, aligned.

        ``texture`` is one value or a per-sample curve for every CAK stage (None: each stage's
        own); ``tail`` extra samples of reverb or delay tail are kept at the end. A CAK stage
        with ``level="match"`` makes it two passes (:meth:`measure_levels`).
        """
        audio, mono = arrays.signal(audio)
        automation = None
        if texture is not None:
            curve = texture_curve(texture, audio.shape[1])
            automation = lambda start, count: curve[start:start + count]  # noqa: E731
        self.prepare(int(sample_rate), CHUNK, audio.shape[0])
        if self.measures_level:
            self.measure_levels([audio], automation, replay=tail == 0)
        result = np.concatenate(list(self.stream([audio], automation, tail)), axis=1)
        self.reset()
        return result[0] if mono else result

    def _require_prepared(self) -> tuple[int, int, int]:
        if self._prepared is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before streaming the chain")
        return self._prepared

