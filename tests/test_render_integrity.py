"""A render exits 0 only when its output is complete, and never loses the old one: a full disk
(a file size limit, a full tmpfs) and stop signals (SIGINT, SIGTERM, SIGHUP; two Ctrl-C in a
folder render) at random moments leave the old outputs byte-identical, no ``.part`` file, and
an exit within 5 s. Every run is ``cak`` in a subprocess (:mod:`tests.cli_outcome`)."""
from __future__ import annotations

import contextlib
import os
import random
import resource
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .cli_outcome import CAK, check_outcome, error_lines, run_cak, temporary_files

RATE = 44100
FORMATS = (".wav", ".flac", ".aiff", ".ogg", ".mp3")


def _noise(path: Path, seconds: float, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    audio = (0.2 * rng.standard_normal((int(seconds * RATE), 2))).astype(np.float32)
    sf.write(str(path), audio, RATE, subtype="PCM_16")
    return path


def _file_limit(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


# -- a full disk --------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("suffix", FORMATS)
def test_a_file_size_limit_fails_the_render_and_keeps_the_old_output(tmp_path: Path, suffix: str) -> None:
    """``ulimit -f`` just below, well below and far below the output's size: each render exits
    2 with one line and the old output is unchanged (it used to say "wrote" and exit 0 with a
    truncated file in its place)."""
    _noise(tmp_path / "in.wav", 3.0)
    out = tmp_path / f"out{suffix}"
    assert run_cak(["render", "-q", "in.wav", out.name], tmp_path).returncode == 0
    size = out.stat().st_size
    old = _noise(tmp_path / "old.wav", 0.5, seed=9).read_bytes()
    for short_by in (1, 2000, size // 2):
        out.write_bytes(old)
        done = run_cak(["render", "-q", "--force", "in.wav", out.name], tmp_path,
                       preexec_fn=_file_limit(size - short_by))
        check_outcome(done, out, None, tmp_path, {"in.wav", "old.wav"}, before=old)
        assert done.returncode == 2 and "output incomplete" in done.stderr, (short_by, done.stderr)


@contextlib.contextmanager
def _small_tmpfs(folder: Path, size_kib: int) -> Iterator[Path]:
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or mounted.returncode})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
def test_a_full_tmpfs_fails_the_render_and_keeps_the_old_output(tmp_path: Path) -> None:
    """The output folder a tmpfs of 256 KiB holding a 90 KiB old output; the new one needs
    350 KiB: exit 2, one line, the old output byte-identical, nothing else left there."""
    _noise(tmp_path / "in.wav", 2.0)
    with _small_tmpfs(tmp_path / "disk", 256) as disk:
        old = _noise(disk / "out.wav", 0.5, seed=9).read_bytes()
        done = run_cak(["render", "-q", "--force", str(tmp_path / "in.wav"), "disk/out.wav"], tmp_path)
        check_outcome(done, disk / "out.wav", None, disk, set(), before=old)
        assert done.returncode == 2


# -- stop signals -------------------------------------------------------------------------------
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    """``cak ARGS`` in a process group of its own, as a shell runs it (Ctrl-C reaches the group)."""
    return subprocess.Popen([*CAK, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _moments(args: list[str], cwd: Path, seed: int, count: int, start: float = 0.2) -> list[float]:
    """``count`` random moments (seconds after the start) within the first 60 % of the time an
    uninterrupted ``cak ARGS`` takes on this machine (timed once here, outputs then removed), so
    the signal always comes while the render runs, on a slow machine or a fast one."""
    began = time.monotonic()
    done = subprocess.run([*CAK, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr
    assert took > 1.0, f"the render took only {took:.2f} s: too short to stop it at a random moment"
    rng = random.Random(seed)
    return [rng.uniform(start, 0.6 * took) for _ in range(count)]


def _stop(process: subprocess.Popen, signals: list[int], pause: float = 0.3) -> tuple[int, str, float]:
    """Send ``signals`` to the process group; returns the exit code, stderr and the seconds from
    the last signal to the exit."""
    for i, sig in enumerate(signals):
        if i:
            time.sleep(pause)
        with contextlib.suppress(ProcessLookupError):  # a folder render may finish its last files first
            os.killpg(process.pid, sig)
    sent = time.monotonic()
    _out, err = process.communicate(timeout=30)
    return process.returncode, err, time.monotonic() - sent


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stopped_file_render_leaves_the_old_output_and_no_temporary_file(tmp_path: Path, sig: int) -> None:
    _noise(tmp_path / "in.wav", 240.0)
    args = ["render", "-q", "--force", "in.wav", "out.wav"]
    moments = _moments(args, tmp_path, seed=sig, count=2)
    old = _noise(tmp_path / "out.wav", 0.5, seed=9).read_bytes()
    for moment in moments:
        process = _start(args, tmp_path)
        time.sleep(moment)
        assert process.poll() is None, "the render must still run when the signal comes"
        code, err, seconds = _stop(process, [sig])
        assert code == 128 + sig, err
        assert seconds < 5.0, f"took {seconds:.1f} s to stop"
        assert len(error_lines(err)) == 1 and "Traceback" not in err, err
        assert not temporary_files(tmp_path)
        assert (tmp_path / "out.wav").read_bytes() == old


@pytest.mark.slow
@pytest.mark.parametrize(("signals", "jobs"), [
    ([signal.SIGINT, signal.SIGINT], 2), ([signal.SIGINT, signal.SIGINT], 1), ([signal.SIGTERM], 2),
    ([signal.SIGHUP], 2),
])
def test_a_stopped_folder_render_leaves_no_temporary_file(tmp_path: Path, signals: list[int], jobs: int) -> None:
    """Two Ctrl-C, or one SIGTERM or SIGHUP, at a random moment: the render exits within 5 s,
    old outputs are unchanged, finished outputs are complete, nothing half-written is left."""
    (tmp_path / "in").mkdir()
    for i in range(3):
        _noise(tmp_path / "in" / f"f{i}.wav", 40.0, seed=i)
    args = ["render", "-q", "--force", "-j", str(jobs), "in", "out"]
    (tmp_path / "out").mkdir()
    moment, = _moments(args, tmp_path, seed=jobs * 100 + signals[0], count=1, start=0.5)
    for path in (tmp_path / "out").iterdir():
        path.unlink()
    old = _noise(tmp_path / "out" / "f2.wav", 0.5, seed=9).read_bytes()
    time.sleep(0.01)
    process = _start(args, tmp_path)
    time.sleep(moment)
    assert process.poll() is None, "the render must still run when the signal comes"
    code, err, seconds = _stop(process, signals)
    assert code == 128 + signals[-1], err
    assert seconds < 5.0, f"took {seconds:.1f} s to stop"
    assert "Traceback" not in err and "internal error" not in err, err
    assert not temporary_files(tmp_path)
    for path in (tmp_path / "out").iterdir():
        audio = sf.read(str(path), dtype="float32")[0]
        if path.name == "f2.wav" and path.read_bytes() == old:
            continue
        assert audio.shape[0] == 40 * RATE and np.all(np.isfinite(audio)), f"{path.name} is incomplete"


@pytest.mark.slow
def test_one_ctrl_c_finishes_the_files_in_progress_and_starts_no_new_one(tmp_path: Path) -> None:
    """A first Ctrl-C in a serial folder render: the file in progress is completed, the next
    two are never started, exit 130 with the reason."""
    (tmp_path / "in").mkdir()
    for i in range(3):  # the first file long enough to be in progress at the signal, whatever the machine
        _noise(tmp_path / "in" / f"f{i}.wav", 240.0 if i == 0 else 1.0, seed=i)
    process = _start(["render", "-q", "in", "out"], tmp_path)
    deadline = time.monotonic() + 60
    while not (tmp_path / "out").is_dir() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    code, err, _seconds = _stop(process, [signal.SIGINT])
    assert code == 130 and "starting no new one" in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["f0.wav"], err
    assert sf.info(str(tmp_path / "out" / "f0.wav")).frames == 240 * RATE
    assert not temporary_files(tmp_path)
