"""Imported once by the batch's fork server (:func:`cak_dsp.batch._worker_context`): loads
the engine's and output stage's compiled code for the layout an offline render uses (without
Numba's registries: :func:`cak_dsp.jit_cache.load_cached_code_only`), so every worker forked
from the server starts with them in memory.

Importing it renders a tenth of a second of silence through a one-stage chain
(:func:`cak_dsp.batch.load_render_code`), nothing else; it never raises (a worker would then load the code itself). It also gives the fork server a
one-line ``sys.excepthook``: a worker that fails before it runs (the fork server reports that
through the hook; e.g. a worker still starting when a second Ctrl-C ended the render, whose
shared stop flag is then gone) says so in one line on stderr, never with a traceback.
"""
from __future__ import annotations

import sys


def _one_line(kind: type[BaseException], value: BaseException, _traceback) -> None:
    sys.stderr.write(f"cak: a render worker did not start ({kind.__name__}: {value})\n")


def _preload() -> None:
    from .batch import load_render_code
    from .jit_cache import engine_is_cached, load_cached_code_only

    if not engine_is_cached():
        return  # the first worker compiles and caches; a fork server should not spend that time
    load_cached_code_only()  # the workers run only cak's jitted code
    load_render_code()


sys.excepthook = _one_line
try:
    _preload()
except Exception:  # noqa: BLE001 - a preload is an optimisation, never a failure
    pass
