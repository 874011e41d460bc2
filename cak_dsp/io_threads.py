"""Decoding and writing a file render's blocks on threads of their own, beside the processing.

A render on one thread decodes a block, processes it, writes it, and only then decodes the
next; on a machine with cores to spare, the other cores wait while it decodes and writes. With
:func:`read_ahead` a thread decodes up to ``depth`` blocks ahead, and with :func:`write_behind`
a thread packs and writes the blocks the processing has finished, so the three run at the
same time and the cores stay busy (decoders, the WAV packer and file writes release the GIL)::

    with contextlib.closing(read_ahead(decode(), depth=2)) as blocks, write_behind(sink.write) as put:
        for block in blocks:
            put(process(block))

The blocks are the same, in the same order: only when the work happens changes. A failure on
either thread is raised on the caller's thread, as the same exception, at its next hand-off;
leaving early (an error, Ctrl-C) stops both threads and waits for them, so a file they use can
be closed or removed as soon as the ``with`` ends. Offline only: the hand-offs wait on queues.
"""
from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL = 0.1  # seconds between a blocked thread's looks at the stop flag


class _Failure:
    """An exception raised on a helper thread, carried to the caller's."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _drain(q: queue.Queue) -> None:
    with contextlib.suppress(queue.Empty):
        while True:
            q.get_nowait()


def read_ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items``, drawn on a thread of its own up to ``depth`` ahead of the caller.

    An exception raised by ``items`` is raised here when the caller reaches it. Closing this
    generator (``contextlib.closing``, or ending a ``for`` loop early and dropping it) stops
    the thread and waits for it to finish the item it is drawing."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def draw() -> None:
        try:
            for item in items:
                if not _put(ready, item, stop):
                    return
            _put(ready, _END, stop)
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            _put(ready, _Failure(exc), stop)

    thread = threading.Thread(target=draw, name="cak-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        _drain(ready)
        thread.join()


@contextlib.contextmanager
def write_behind(write: Callable[[T], object], depth: int = 2) -> Iterator[Callable[[T], None]]:
    """A ``put(item)`` that hands ``item`` to ``write``, called on a thread of its own in the
    order given, with at most ``depth`` items waiting.

    The caller must not change an item after putting it. ``put`` raises the exception of a
    ``write`` that failed; a normal exit from the ``with`` waits for every item to be written
    and raises that exception if one failed. An exit by an exception stops the thread after
    the item it is writing (the rest are dropped) and lets the exception go on."""
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    waiting: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    ended = threading.Event()  # the writing thread has returned: nothing more will be taken
    failed: list[BaseException] = []

    def drain_into_writer() -> None:
        try:
            while not stop.is_set():
                try:
                    item = waiting.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if item is _END:
                    return
                write(item)
        except BaseException as exc:  # noqa: BLE001 - carried to the caller's thread
            failed.append(exc)
        finally:
            ended.set()

    thread = threading.Thread(target=drain_into_writer, name="cak-write-behind", daemon=True)
    thread.start()

    def put(item: T) -> None:
        if not failed and _put(waiting, item, ended):
            return
        raise failed[0] if failed else RuntimeError("the writing thread stopped")

    try:
        yield put
        _put(waiting, _END, ended)
        thread.join()
        if failed:
            raise failed[0]
    except BaseException:
        stop.set()
        _drain(waiting)
        thread.join()
        raise
