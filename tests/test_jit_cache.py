"""Knowing whether the engine is compiled yet, and the one-line notice before a first compile."""
from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from cak_dsp import jit_cache
from cak_dsp.jit_cache import NOTICE, announce_compile

ROOT = Path(__file__).resolve().parents[1]


def test_notice_is_one_line_only_when_not_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(jit_cache, "engine_is_cached", lambda: True)
    assert not announce_compile(out) and out.getvalue() == ""
    monkeypatch.setattr(jit_cache, "engine_is_cached", lambda: False)
    assert announce_compile(out)
    assert out.getvalue() == NOTICE + "\n" and NOTICE.startswith("cak: compiling the DSP engine once")


def test_notice_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> bool:
        raise OSError("cache folder gone")

    monkeypatch.setattr(jit_cache, "engine_is_cached", broken)
    out = io.StringIO()
    assert not announce_compile(out) and out.getvalue() == ""


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cache_check_reads_numbas_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a tiny cached function, in a NUMBA_CACHE_DIR of its own: absent, then cached (as a fresh
    process sees it), then stale once its source changes."""
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "cache"))
    source = tmp_path / "tiny.py"
    source.write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n    return x + 1\n")
    first = _load(source, "cak_tiny_1").f
    assert not jit_cache._has_loadable_entry(first)
    assert first(1) == 2
    assert list((tmp_path / "cache").rglob("*.nbi"))
    assert jit_cache._has_loadable_entry(_load(source, "cak_tiny_2").f)
    source.write_text(source.read_text().replace("x + 1", "x + 2"))
    assert not jit_cache._has_loadable_entry(_load(source, "cak_tiny_3").f)


def test_engine_counts_as_cached_once_compiled_here() -> None:
    jit_cache.compile_engine()
    assert jit_cache.engine_is_cached()


@pytest.mark.slow
def test_cold_then_warm_in_fresh_processes(tmp_path: Path) -> None:
    """A cold cache prints the notice once and compiles; the next process loads and says nothing."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    code = "from cak_dsp.jit_cache import announce_compile, compile_engine; announce_compile(); compile_engine()"
    runs = [subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    assert runs[0].stderr == NOTICE + "\n"
    assert runs[1].stderr == ""


def test_cached_code_loads_without_numbas_registries(tmp_path: Path) -> None:
    """After ``load_cached_code_only``, a fresh process runs a cached function without Numba
    refreshing its target (no registry installed), and still compiles a function the cache lacks
    (which refreshes the target then)."""
    source = tmp_path / "tiny_lean.py"
    source.write_text("import numpy as np\nfrom numba import njit\n\n@njit(cache=True)\n"
                      "def total(x):\n    return np.sum(x * 2.0)\n")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    subprocess.run([sys.executable, "-c", "import numpy as np, tiny_lean; print(tiny_lean.total(np.ones(3)))"],
                   env=env, check=True, capture_output=True, timeout=120)
    code = """
import numpy as np
from numba.core import base
refreshes = []
original = base.BaseContext.refresh
base.BaseContext.refresh = lambda self: (refreshes.append(1), original(self))[1]
from cak_dsp.jit_cache import load_cached_code_only
load_cached_code_only()
import tiny_lean
print(tiny_lean.total(np.ones(3)), len(refreshes))
from numba import njit
print(njit(lambda x: x * 3.0)(np.ones(2)).sum(), len(refreshes) > 0)
"""
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["6.0", "0", "6.0", "True"]
