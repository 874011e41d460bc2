"""Offline rendering on several cores: the channels split over engines that run on threads.

The engine's channels never mix (each has its own frames, gains and overlap-add), so a stereo
file is two independent mono streams. :class:`ThreadedEngine` speaks
:class:`~cak_dsp.engine.CakEngine`'s language (``prepare``, ``process``, ``process_automated``,
``flush``, ``reset``, ``texture``, ``energies``, ``latency_samples``) over one engine per group
of channels and runs the groups on a shared thread pool; the jitted code releases the GIL
(``nogil=True``), so the groups run at the same time. Every channel's output is bit for bit the
single engine's; the energies are summed per group, then over groups.

Offline only (:class:`~cak_dsp.Cak` with ``threads > 1``, as ``render``, ``render_file`` and
``cak render`` set it): handing a block to another thread and waiting for it has no place in an
audio callback.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .engine import CakEngine
from .geometry import FrameGeometry
from .preset import Preset
from .texture import check_texture

_POOL: ThreadPoolExecutor | None = None


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells it)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def default_threads(channels: int) -> int:
    """Threads for an offline render of ``channels`` channels: one per channel, at most one per core."""
    return max(min(int(channels), usable_cores()), 1)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(usable_cores() - 1, 1), thread_name_prefix="cak-channels")
    return _POOL


class ThreadedEngine:
    """``threads`` engines over contiguous groups of channels, run in parallel (offline only)."""

    def __init__(self, preset: Preset, mode: str, geometry: str, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.preset = preset
        self.mode = mode
        self.geometry_name = geometry
        self.threads = int(threads)
        CakEngine(preset, mode=mode, geometry=geometry)  # checks mode and geometry now
        self._texture = 0.0
        self._engines: list[CakEngine] = []
        self._groups: list[tuple[int, int]] = []

    def prepare(self, sample_rate: int, max_block: int, channels: int, warm: bool = False) -> None:
        """One engine per group of channels (at most ``threads`` groups), each prepared
        (``warm``: see :meth:`CakEngine.prepare`)."""
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        bounds = np.linspace(0, channels, min(self.threads, channels) + 1).round().astype(int)
        self._groups = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        self._engines = []
        for a, b in self._groups:
            engine = CakEngine(self.preset, mode=self.mode, geometry=self.geometry_name)
            engine.prepare(sample_rate, max_block, b - a, warm=warm)
            engine.texture = self._texture
            self._engines.append(engine)
        self.channels = int(channels)
        self.max_block = int(max_block)
        self._out = np.zeros((channels, self.max_block), np.float32)

    @property
    def texture(self) -> float:
        return self._texture

    @texture.setter
    def texture(self, value: float) -> None:
        self._texture = check_texture(value)
        for engine in self._engines:
            engine.texture = self._texture

    @property
    def geometry(self) -> FrameGeometry:
        return self._require_prepared()[0].geometry

    @property
    def latency_samples(self) -> int:
        return self._require_prepared()[0].latency_samples

    @property
    def energies(self) -> tuple[float, float, float]:
        sums = np.sum([engine.energies for engine in self._require_prepared()], axis=0)
        return float(sums[0]), float(sums[1]), float(sums[2])

    def process(self, block: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """As :meth:`CakEngine.process`: each group of rows on its own thread."""
        self._require_prepared()
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels or not 1 <= block.shape[1] <= self.max_block:
            raise ValueError(f"block must be shaped ({self.channels}, 1..{self.max_block}), got {block.shape}")
        if out is None:
            out = self._out[:, :block.shape[1]]
        elif out.shape != block.shape:
            raise ValueError(f"out must be shaped like the block {block.shape}, got {out.shape}")
        self.run_groups(lambda _g, engine, a, b: engine.process(block[a:b], out=out[a:b]))
        return out

    def process_automated(self, block: np.ndarray, texture: np.ndarray) -> np.ndarray:
        """As :meth:`CakEngine.process_automated`: each group of rows on its own thread."""
        self._require_prepared()
        block = np.asarray(block, dtype=np.float32)
        out = np.empty((self.channels, block.shape[1]), np.float32)

        def run(_group: int, engine: CakEngine, a: int, b: int) -> None:
            out[a:b] = engine.process_automated(block[a:b], texture)

        self.run_groups(run)
        return out

    def flush(self) -> np.ndarray:
        return np.concatenate([engine.flush() for engine in self._require_prepared()], axis=0)

    def reset(self) -> None:
        for engine in self._require_prepared():
            engine.reset()

    @property
    def groups(self) -> list[tuple[int, int]]:
        """The groups of channels, as (first row, end row), one per engine (after ``prepare``)."""
        self._require_prepared()
        return list(self._groups)

    def run_groups(self, work: Callable[[int, CakEngine, int, int], object]) -> None:
        """``work(group, engine, first_row, end_row)`` for every group at the same time: the
        first on this thread, the rest on the pool; returns when all are done (the first
        exception raised is raised here). The caller's per-group work around the engine (sums,
        copies, the output stage) runs on the group's thread too."""
        engines = self._require_prepared()
        futures = [_pool().submit(work, g, engine, a, b)
                   for g, (engine, (a, b)) in enumerate(zip(engines, self._groups)) if g]
        try:
            work(0, engines[0], *self._groups[0])
        finally:
            for future in futures:
                future.result()

    def _require_prepared(self) -> list[CakEngine]:
        if not self._engines:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before using the engine")
        return self._engines
