"""Batch rendering: every audio file in a folder tree, in parallel, locally or on a Dask cluster.

::

    job = RenderJob(chain_file="studio.json")
    report = render_folder("in/", "out/", job, jobs=2)               # local processes
    report = render_folder("in/", "out/", job, cluster="tcp://scheduler:8786")   # Dask

Each file is one task, ``render_one(job, src, dst)``: it builds the chain once per worker
(and thread), renders the file atomically on one core (``--jobs`` is the batch's
parallelism), and returns a :class:`FileResult`; it never raises,
so one bad file never stops the batch and its error names it. Stopping: ``should_stop`` is
asked before each file starts (a first Ctrl-C: the files in progress finish, no new one
starts); an exception in the caller (a second Ctrl-C) tells the local workers to drop their
files at the next block, whose temporary outputs are then removed. Workers ignore SIGINT
(the caller decides) and drop their files on SIGTERM or SIGHUP. Outputs keep their relative
paths and formats; files whose output exists are skipped unless ``job.force``. Dask is only
imported when a cluster address is given (``pip install 'cak[cluster]'``); its workers need
cak installed, as any Dask worker needs the code it runs.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import active_children, forkserver, get_context
from pathlib import Path

from .atomic import remove_leftovers
from .automation import Automation
from .chain import Chain
from .errors import first_line
from .limits import check_jobs
from .file_render import READ_FORMATS, render_file
from .cak_stage import Cak
from .normalization import DEFAULT_MODE

_OUTPUT_SUFFIX = {".aif": ".aiff"}
ABORT_WAIT = 1.0  # seconds the workers get to drop their files once the batch stops at once
_local = threading.local()
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_abort = None  # in a worker process: the batch's multiprocessing Event "stop now"
_signalled = False  # in a worker process: SIGTERM or SIGHUP arrived


class RenderAborted(Exception):
    """The batch was stopped at once while this file was in progress (it was not written)."""


@dataclass(frozen=True)
class RenderJob:
    """How to render each file: a chain file, or one preset (``mode``), plus the render options.

    ``level`` and ``soft_clip`` (None: each CAK stage's own) apply to every CAK stage."""

    chain_file: str | None = None
    preset: str | None = None
    mode: str = DEFAULT_MODE
    level: str | None = None
    soft_clip: bool | None = None
    geometry: str = "standard"
    texture: float | None = None
    automation: Automation | None = None
    tail: float = 0.0
    sample_rate: int | None = None
    bit_depth: int | None = None
    force: bool = False
    controls: tuple = ()  # cak_dsp.control_files.ControlSpec: stage parameters automated by files

    @property
    def knob(self) -> float | Automation | None:
        """What moves every CAK stage: the automation, else the texture (None: each stage's own)."""
        return self.automation if self.automation is not None else self.texture

    def build_chain(self) -> Chain:
        """The chain this job runs (chain file, or a single CAK stage)."""
        if self.chain_file is not None:
            from .chain_file import load_chain
            from .control_files import bind_controls

            chain = load_chain(self.chain_file)
            bind_controls(chain, self.controls)
        else:
            chain = Chain([Cak(self.preset or "drums", texture=0.8 if self.texture is None else self.texture,
                               mode=self.mode, geometry=self.geometry)])
        for stage in chain.cak_stages:
            if self.level is not None:
                stage.level = self.level
            if self.soft_clip is not None:
                stage.soft_clip = self.soft_clip
        return chain


@dataclass(frozen=True)
class FileResult:
    """One file's outcome: ``error`` is None on success, else one line naming the file."""

    source: str
    destination: str
    error: str | None
    samples: int = 0
    sample_rate: int = 0
    seconds: float = 0.0


@dataclass
class BatchReport:
    """What a batch did: rendered and failed results, skipped outputs, wall time."""

    rendered: list[FileResult] = field(default_factory=list)
    failed: list[FileResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def audio_seconds(self) -> float:
        return sum(r.samples / r.sample_rate for r in self.rendered if r.sample_rate)


def render_one(job: RenderJob, src: str, dst: str) -> FileResult:
    """Render one file for a batch; never raises (the error comes back in the result)."""
    start = time.perf_counter()
    try:
        _check_abort()
        chain = _chain_for(job)
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        report = render_file(src, dst, chain, texture=job.knob, tail=job.tail, sample_rate=job.sample_rate,
                             bit_depth=job.bit_depth, force=job.force, threads=1,
                             progress=_check_abort)
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop the batch
        message = first_line(exc)
        if src not in message:
            message = f"{src}: {message}"
        return FileResult(src, dst, message, seconds=time.perf_counter() - start)
    return FileResult(src, dst, None, report.samples, report.sample_rate, time.perf_counter() - start)


def _check_abort(_samples: int = 0) -> None:
    """In a worker, between blocks: stop this file if the batch was stopped at once."""
    if _signalled or (_abort is not None and _abort.is_set()):
        raise RenderAborted("interrupted; not written")


def _worker_init(abort) -> None:
    """A local worker: Ctrl-C is the caller's to handle; SIGTERM and SIGHUP stop its file in
    progress at the next block (its temporary output is removed). Workers start with the stop
    signals ignored, and blocked when forked from the caller (:func:`_helpers_shielded`)."""
    global _abort
    _abort = abort
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_stop_signal)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # a worker forked inside the shield has them blocked


def _on_stop_signal(signum: int, frame) -> None:
    global _signalled
    _signalled = True


@contextlib.contextmanager
def _helpers_shielded():
    """Start multiprocessing's helpers (the fork server and resource tracker, or the workers
    forked from here) with the stop signals ignored, a disposition they inherit, and so do the
    workers the fork server forks: a Ctrl-C sent to the whole process group then never kills a
    helper half-started (the fork server imports cak first, the workers install their handlers
    in :func:`_worker_init`). The caller has them
    blocked meanwhile, so that a signal to it waits (Linux keeps a blocked signal pending even
    while ignored) and arrives once its own handlers are back. Only the main thread can set
    handlers: called from another thread, the helpers start unshielded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _chain_for(job: RenderJob) -> Chain:
    """One chain per job description per thread (plugins are stateful, chains are not shared)."""
    cache = getattr(_local, "chains", None)
    if cache is None:
        cache = _local.chains = {}
    key = (job.chain_file, job.preset, job.mode, job.level, job.soft_clip, job.geometry, job.controls)
    if key not in cache:
        cache[key] = job.build_chain()
    return cache[key]


def plan(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str]) -> list[tuple[Path, Path]]:
    """Every audio file under ``src_dir`` paired with its output path under ``dst_dir``."""
    src_dir, dst_dir = Path(src_dir), Path(dst_dir)
    if not src_dir.is_dir():
        raise FileNotFoundError(f"{src_dir}: no such input folder")
    if dst_dir.resolve() == src_dir.resolve():
        raise FileExistsError(f"{dst_dir}: output folder is the input folder; choose another")
    out_root = dst_dir.resolve()
    pairs = []
    for src in sorted(src_dir.rglob("*")):
        if not src.is_file() or src.suffix.lower() not in READ_FORMATS or src.name.startswith("."):
            continue
        if out_root in src.resolve().parents:
            continue
        rel = src.relative_to(src_dir)
        pairs.append((src, dst_dir / rel.with_suffix(_OUTPUT_SUFFIX.get(rel.suffix.lower(), rel.suffix))))
    return pairs


def render_folder(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str], job: RenderJob,
                  jobs: int = 1, cluster: str | None = None,
                  on_result: Callable[[FileResult], None] | None = None,
                  on_plan: Callable[[int], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BatchReport:
    """Render every audio file under ``src_dir`` into ``dst_dir`` (same relative paths).

    ``jobs`` local processes, or the Dask cluster at ``cluster``. ``on_plan`` hears how many
    files will be rendered, ``on_result`` each result as it arrives (for a progress bar).
    Once ``should_stop()`` is true no new file starts (locally; Dask gets every file at once).
    """
    check_jobs(jobs, "--jobs")
    start = time.perf_counter()
    report = BatchReport()
    todo = []
    for src, dst in plan(src_dir, dst_dir):
        if dst.exists() and not job.force:
            report.skipped.append(str(dst))
        else:
            todo.append((str(src), str(dst)))
    if on_plan is not None:
        on_plan(len(todo))
    if todo:
        Path(dst_dir).mkdir(parents=True, exist_ok=True)
    for result in _run(job, todo, jobs, cluster, should_stop or (lambda: False)):
        (report.failed if result.error else report.rendered).append(result)
        if on_result is not None:
            on_result(result)
    report.seconds = time.perf_counter() - start
    return report


def _run(job: RenderJob, todo: list[tuple[str, str]], jobs: int, cluster: str | None,
         should_stop: Callable[[], bool]):
    if cluster is not None:
        yield from _run_on_dask(job, todo, cluster)
    elif jobs == 1 or len(todo) <= 1:
        for src, dst in todo:
            if should_stop():
                return
            yield render_one(job, src, dst)
    else:
        yield from _run_local(job, todo, min(jobs, len(todo)), should_stop)


def _run_local(job: RenderJob, todo: list[tuple[str, str]], workers: int, should_stop: Callable[[], bool]):
    """Files on ``workers`` processes, at most one each in flight, so that none starts once
    ``should_stop()``. On any exception (the caller's Ctrl-C) the workers are told to drop their
    files at the next block, given ``ABORT_WAIT`` seconds to, then killed, and the temporary
    outputs of the files in flight are removed."""
    context = _worker_context()
    before = set(active_children())
    with _helpers_shielded():
        if context.get_start_method() == "forkserver":
            forkserver.ensure_running()
        abort = context.Event()
    waiting = iter(todo)
    running: dict = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(abort,))

    def fill() -> None:
        while len(running) < workers and not (should_stop() or abort.is_set()):
            item = next(waiting, None)
            if item is None:
                return
            running[pool.submit(render_one, job, *item)] = item

    try:
        with _helpers_shielded():  # the first submissions start the workers (with "fork": forked from here)
            fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                running.pop(future)
                yield future.result()
            fill()
    except BrokenProcessPool:
        raise OSError("a render worker process died (killed?); the files in progress were not written") from None
    except BaseException:
        abort.set()
        wait(running, timeout=ABORT_WAIT)
        for process in set(active_children()) - before:
            process.kill()  # also those still starting, which would fail loudly once cak has exited
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for _src, dst in running.values():
            remove_leftovers(dst)


def _worker_context():
    """Where the workers come from, so that none pays cak's start-up (imports, loading the
    engine's compiled code) again: forked from this process once it has loaded the code
    (:func:`load_render_code`), when it runs a single thread on Linux; otherwise (a fork copies
    only the calling thread: another one's locks would stay held in the child) forked from a
    server that has imported cak and loaded the code once (:mod:`cak_dsp.batch_preload`)."""
    if _single_threaded_linux():
        load_render_code()
        if _single_threaded_linux():  # loading started no thread
            return get_context("fork")
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__, "cak_dsp.batch_preload"])
    return context


def _single_threaded_linux() -> bool:
    """True on Linux when this process runs one thread, native threads included."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def load_render_code() -> None:
    """Load (or compile) the compiled code a worker's render runs: a tenth of a second of
    silence through a one-stage chain, mono and stereo, on one core as the workers render."""
    import numpy as np

    from .presets import resolve_preset

    for channels in (1, 2):
        silence = np.zeros((channels, 4410), np.float32)
        Chain([Cak(resolve_preset("drums"), 0.5, threads=1)])(silence, 44100)


def _run_on_dask(job: RenderJob, todo: list[tuple[str, str]], address: str):
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise OSError("--cluster needs Dask; install it with: pip install 'cak[cluster]'") from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise OSError(f"cannot reach the Dask scheduler at {address} ({exc})") from None
    with client:
        futures = client.map(render_one, [job] * len(todo), [s for s, _ in todo], [d for _, d in todo], pure=False)
        try:
            for future in dask_completed(futures):
                yield future.result()
        except BaseException:
            client.cancel(futures)
            raise
