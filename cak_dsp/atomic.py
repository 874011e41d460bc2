"""Atomic file output: write to a temporary file beside the target, then rename.

An interrupted write (Ctrl-C, crash, full disk) never leaves a half-written file under
the final name, and an existing file is only replaced once the new one is complete.
"""
from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` on success.

    The temporary name keeps the target's suffix so that format detection by extension
    (soundfile, matplotlib) works on it. The file is synced to the disk before the rename. On
    any exception (an interrupt too) the temporary file is removed.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        _sync(tmp_path)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def remove_leftovers(target: str | os.PathLike[str]) -> None:
    """Remove the temporary files of ``target`` that a writer killed outright left behind (the
    names :func:`atomic_path` gives them); only for a target no other writer is working on."""
    target = Path(target)
    for leftover in target.parent.glob(f".{glob.escape(target.name)}.*.part{glob.escape(target.suffix)}"):
        leftover.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Flush ``path`` to the disk: a write the filesystem deferred (delayed allocation on a full
    disk) fails here, before the rename, rather than after it."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``target`` atomically (UTF-8)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
