"""Is the engine's compiled code already in Numba's disk cache? And one line saying so when not.

The engine's jitted functions use ``cache=True``: the first ``CakEngine.prepare`` after an
install (or after ``engine.py`` changed, or on another CPU or Numba version) compiles them,
about ``COMPILE_SECONDS``, and writes them to Numba's cache; later processes load them in a
fraction of a second. Numba picks the cache folder itself (``NUMBA_CACHE_DIR`` if set, else
``__pycache__`` beside ``engine.py`` when writable, else the user's cache folder such as
``~/.cache/numba``); :func:`engine_is_cached` asks Numba's own cache objects for that folder and
reads the index files (``*.nbi``) there, so it follows the same rules.

The CLI calls :func:`announce_compile` just before it builds an engine::

    from cak_dsp.jit_cache import announce_compile
    announce_compile()      # one line on stderr, only when the engine is not compiled yet

``python -m cak_dsp.jit_cache`` compiles the engine ahead of time (and says how long it took).
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

# Cold compile of the engine before a first render (numba 0.68, a shared 2-core x86-64 VM): 14-18 s.
COMPILE_SECONDS = 15

NOTICE = (f"cak: compiling the DSP engine once (about {COMPILE_SECONDS} s; "
          "later runs start at once)")


def _dispatchers() -> list:
    """The jitted functions the engine calls from Python; compiling them compiles everything below."""
    from . import engine

    return [engine._process, engine._finish]


def engine_is_cached() -> bool:
    """True when Numba's disk cache holds compiled code for the engine's entry points that this
    process can load: same ``engine.py`` source, Numba version, Python version and CPU.

    Cheap (reads two small index files; imports numba and the engine, which rendering needs
    anyway). Compiling already happened in this process also counts as cached.
    """
    for dispatcher in _dispatchers():
        if dispatcher.signatures:
            continue
        if not _has_loadable_entry(dispatcher):
            return False
    return True


def _has_loadable_entry(dispatcher) -> bool:
    cache = dispatcher._cache
    try:
        # Numba's own check of the index: stale (other source, other Numba version) reads as empty.
        index = cache._cache_file._load_index()
        here = cache._index_key(None, dispatcher.targetctx.codegen())[1:]
    except AttributeError:
        # Numba's private cache layout changed: fall back to "an index file exists".
        import glob
        import os

        name = f"*{dispatcher.py_func.__name__}-*.nbi"
        return bool(glob.glob(os.path.join(glob.escape(cache.cache_path), name)))
    except Exception:
        # Unreadable or corrupt index: Numba will recompile.
        return False
    return any(tuple(key[1:]) == here for key in index)


def announce_compile(stream: TextIO | None = None) -> bool:
    """Print :data:`NOTICE` as one line to ``stream`` (stderr) when the engine is not compiled yet.

    Returns whether it printed. Call it before the first ``CakEngine.prepare`` of the process
    (``render``, ``render_file``, the demo, the live host); it never raises.
    """
    try:
        if engine_is_cached():
            return False
    except Exception:  # a notice must never stop a render
        return False
    stream = sys.stderr if stream is None else stream
    print(NOTICE, file=stream, flush=True)
    return True


def load_cached_code_only() -> None:
    """Let Numba load cached compiled code in this process without its typing and lowering
    registries: a cache load then initialises only Numba's runtime (NRT), which the loaded code
    links against.

    Numba refreshes its CPU target before every cache load (``Cache.load_overload``): that
    imports and installs every typing and lowering registry (numpy, cpython, cffi, random, ...)
    and checks for a BLAS by importing ``scipy.linalg``: more than loading the engine's code,
    which needs none of it. Compiling refreshes the target itself (Numba's ``CompilerBase``), so
    a cache miss or a new signature still compiles as usual (BLAS check included). Replaces
    ``numba.core.caching.Cache.load_overload`` for the whole process; a command that runs only
    cak's jitted code (``cak render``, the batch's workers) calls it once, before the first cache
    load. Does nothing (the usual load) when Numba's cache layout differs; never raises.
    """
    try:
        from numba.core import caching
        from numba.core.runtime import rtsys
    except Exception:  # Numba's private layout changed: keep its own cache loading
        return
    load = getattr(caching.Cache, "load_overload", None)
    if load is None or getattr(load, "_cak_lean", False) or not all(
            hasattr(caching.Cache, name) for name in ("_load_overload", "_guard_against_spurious_io_errors")):
        return

    def load_overload(self, sig, target_context):
        rtsys.initialize(target_context)  # what loaded code needs of the refresh (idempotent)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    load_overload._cak_lean = True
    caching.Cache.load_overload = load_overload


def compile_engine() -> float:
    """Compile the engine now (or load it from the cache); returns the seconds it took."""
    import numpy as np

    from .engine import CakEngine
    from .preset import Preset

    preset = Preset(name="warm-up", weight=np.zeros((3, 3)), bias=0.0, scale=1.0, threshold=0.3,
                    temperature=20.0, alpha=10.0, global_low=0.0, global_high=4.2, gamma=0.85,
                    provenance={"method": "jit_cache warm-up"})
    start = time.perf_counter()
    CakEngine(preset).prepare(44100, 512, 2)
    return time.perf_counter() - start


if __name__ == "__main__":
    cached = engine_is_cached()
    if not cached:
        print(NOTICE, file=sys.stderr, flush=True)
    seconds = compile_engine()
    print(f"engine {'loaded from the cache' if cached else 'compiled and cached'} in {seconds:.1f} s")
