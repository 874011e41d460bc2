"""Numba's disk cache for cak_dsp, keyed to every module that holds jitted code.

Numba stamps a function's cached machine code with a hash of the function's own source file
only. A jitted function that calls another module's jitted function has that function's code
compiled into it: after an edit to ``normalization.py`` alone, ``engine.py``'s cached
``_process`` would go on running the old normalization, and a development checkout that pulled
such a change would play the old sound without a word. (An installed wheel is not exposed: an
upgrade rewrites every file.)

So a function defined in cak_dsp is stamped with its own file's hash and a hash of every module
in :data:`JITTED_MODULES`: an edit to any of them recompiles the engine once. This goes through
Numba's extension point for cache locators (``numba.config.CACHE_LOCATOR_CLASSES``); functions
of other packages keep Numba's stamp, and a ``NUMBA_CACHE_LOCATOR_CLASSES`` set by the user is
left as it is. :mod:`cak_dsp` imports this module before any of its jitted code.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

from numba.core import caching, config

PACKAGE = Path(__file__).resolve().parent
# The modules whose jitted code other modules' jitted code may call (tests/test_jit_stamp.py
# checks the list against the sources).
JITTED_MODULES = ("buffers", "delay", "engine", "fbe", "fft", "guard", "level", "normalization", "residual",
                  "vecmath", "wav_writer")


@functools.lru_cache(maxsize=None)
def _hash(folder: Path, stamps: tuple[tuple[str, float, int], ...]) -> bytes:
    # keyed by (name, mtime, size) too, so that a file edited while the process runs is read again
    digest = hashlib.sha256()
    for name, _, _ in stamps:
        digest.update(name.encode())
        digest.update((folder / f"{name}.py").read_bytes())
    return digest.digest()


def package_stamp(folder: Path = PACKAGE) -> bytes:
    """A hash of the sources of :data:`JITTED_MODULES` in ``folder``."""
    stamps = []
    for name in JITTED_MODULES:
        status = os.stat(folder / f"{name}.py")
        stamps.append((name, status.st_mtime, status.st_size))
    return _hash(folder, tuple(stamps))


class _PackageStamp:
    """Locator mixin: a cak_dsp function's stamp also covers :data:`JITTED_MODULES`."""

    _py_file: str

    def get_source_stamp(self):
        stamp = super().get_source_stamp()
        if Path(self._py_file).resolve().parent == PACKAGE:
            return stamp, package_stamp()
        return stamp


class UserProvidedCacheLocator(_PackageStamp, caching.UserProvidedCacheLocator):
    """Numba's ``NUMBA_CACHE_DIR`` locator, with the package stamp."""


class InTreeCacheLocator(_PackageStamp, caching.InTreeCacheLocator):
    """Numba's ``__pycache__`` locator, with the package stamp."""


class UserWideCacheLocator(_PackageStamp, caching.UserWideCacheLocator):
    """Numba's per-user cache folder locator (read-only installs), with the package stamp."""


def install() -> None:
    """Put this module's locators in place of Numba's three file-backed ones, in Numba's order."""
    if config.CACHE_LOCATOR_CLASSES:
        return
    ours = [f"{__name__}.{cls.__name__}" for cls in (UserProvidedCacheLocator, InTreeCacheLocator,
                                                     UserWideCacheLocator)]
    config.CACHE_LOCATOR_CLASSES = ",".join(ours + ["IPythonCacheLocator", "ZipCacheLocator"])


install()
