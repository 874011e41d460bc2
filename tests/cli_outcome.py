"""The invariants every ``cak`` run must keep, whatever it was given, checked on a subprocess.

* it is never killed by a signal it did not ask for (no segfault, no abort);
* exit 0 only with a complete output: readable, finite, of the expected length;
* otherwise exit != 0 and exactly one line on stderr, without a traceback;
* no file is left in the folder but the inputs and the intended output (no ``.part`` files),
  and an output that existed before a failed run is byte-identical afterwards.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

CAK = [sys.executable, "-c", "import sys; from cak_cli import main; sys.exit(main())"]
# a line cak may print on a cold Numba cache before any work; not an error line
COMPILE_NOTE = "cak: compiling the DSP engine once"


def run_cak(args: Sequence[str], cwd: Path, timeout: float = 120.0,
            preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess:
    """``cak ARGS`` in ``cwd`` in a fresh process (the worktree's environment)."""
    return subprocess.run([*CAK, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn, env=os.environ.copy())


def error_lines(stderr: str) -> list[str]:
    """stderr's lines, less blank ones and the compile note."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(COMPILE_NOTE)]


def temporary_files(folder: Path) -> list[Path]:
    """Files an interrupted or failed write could leave behind (:mod:`cak_dsp.atomic` names)."""
    return [p for p in folder.rglob("*") if ".part" in p.name]


def check_outcome(done: subprocess.CompletedProcess, output: Path, expected_samples: int | None,
                  folder: Path, allowed: set[str], before: bytes | None = None) -> None:
    """Assert the invariants above for one run that was to write ``output``.

    ``expected_samples`` is the output's length when the run succeeds (None: any length);
    ``allowed`` the names that may be in ``folder`` afterwards besides ``output``; ``before``
    the output's bytes before the run, when it existed.
    """
    what = f"rc={done.returncode}\nstderr: {done.stderr[-2000:]}"
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {what}"
    assert "Traceback" not in done.stderr, what
    assert "internal error" not in done.stderr, what
    assert not temporary_files(folder), f"{temporary_files(folder)} left: {what}"
    left = {p.name for p in folder.iterdir()} - allowed - {output.name}
    assert not left, f"unexpected files {left}: {what}"
    if done.returncode == 0:
        audio, _rate = sf.read(str(output), dtype="float32", always_2d=True)
        assert np.all(np.isfinite(audio)), what
        if expected_samples is not None:
            assert abs(audio.shape[0] - expected_samples) <= 1, f"{audio.shape[0]} != {expected_samples}: {what}"
        return
    lines = error_lines(done.stderr)
    assert len(lines) == 1, f"expected one error line: {what}"
    if before is None:
        assert not output.exists(), what
    else:
        assert output.read_bytes() == before, f"the old output changed: {what}"
