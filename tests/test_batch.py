"""Folder rendering: parallel jobs, a Dask cluster, bad files reported by name, reruns skip."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from cak_dsp import Preset, batch, render
from cak_dsp.batch import RenderJob, render_folder
from cak_cli import main

pytestmark = pytest.mark.slow

RATE = 44100


@pytest.fixture
def library(tmp_path: Path, synthetic_preset: Preset, drums: np.ndarray) -> tuple[Path, Path]:
    """20 files in a tree: 18 good (WAV, FLAC, OGG, MP3, mono and stereo), one corrupt, one empty."""
    root = tmp_path / "library"
    rng = np.random.default_rng(3)
    for i in range(18):
        folder = root / ("kicks" if i % 2 else "loops/fast")
        folder.mkdir(parents=True, exist_ok=True)
        start = int(rng.integers(0, drums.size - RATE // 2))
        audio = drums[start:start + RATE // 2 + 1000 * i] * 0.6
        audio = np.stack([audio, np.roll(audio, 300)]) if i % 3 else audio[None]
        ext = ("wav", "flac", "ogg")[i % 3]
        sf.write(str(folder / f"take{i:02d}.{ext}"), audio.T, RATE)
    (root / "kicks" / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    sf.write(str(root / "loops" / "empty.wav"), np.zeros((0, 2)), RATE)
    (root / "notes.txt").write_text("not audio")
    preset_file = tmp_path / "kernel.json"
    synthetic_preset.save(preset_file)
    return root, preset_file


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_folder_render_reports_bad_files_and_skips_on_rerun(tmp_path: Path, library, synthetic_preset: Preset,
                                                            capsys: pytest.CaptureFixture) -> None:
    root, preset_file = library
    before = _snapshot(root)
    out = tmp_path / "rendered"
    args = ["render", str(root), str(out), "--preset", str(preset_file), "--texture", "0.9", "--jobs", "2", "-q"]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "rendered 18 file(s)" in captured.out and "2 failed" in captured.out
    failures = [line for line in captured.err.splitlines() if line.startswith("cak: failed:")]
    assert len(failures) == 2
    assert any(str(root / "kicks" / "corrupt.wav") in line and "cannot read audio" in line for line in failures)
    assert any(str(root / "loops" / "empty.wav") in line and "empty audio file" in line for line in failures)
    outputs = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert len(outputs) == 18 and all(not name.startswith(".") for name in outputs)
    assert _snapshot(root) == before
    sample = out / "kicks" / "take01.flac"
    dry, _ = sf.read(str(root / "kicks" / "take01.flac"), dtype="float32", always_2d=True)
    wet, _ = sf.read(str(sample), dtype="float32", always_2d=True)
    assert np.abs(wet - render(dry.T, RATE, synthetic_preset, 0.9).T).max() <= 1e-4
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    assert main(args) == 1
    assert "rendered 0 file(s)" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps


def test_dask_cluster_renders_the_same_files(tmp_path: Path, library) -> None:
    distributed = pytest.importorskip("distributed")
    root, preset_file = library
    job = RenderJob(preset=str(preset_file), texture=0.5)
    local = render_folder(root, tmp_path / "local", job, jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = render_folder(root, tmp_path / "dask", job, cluster=cluster.scheduler_address)
    assert (len(local.rendered), len(local.failed)) == (len(remote.rendered), len(remote.failed)) == (18, 2)
    for result in local.rendered:
        twin = tmp_path / "dask" / Path(result.destination).relative_to(tmp_path / "local")
        here, _ = sf.read(result.destination)
        there, _ = sf.read(str(twin))  # decoded: Ogg streams carry a random serial number
        assert np.array_equal(here, there)


FORKING_PROCESS = """
import os
os.environ["OPENBLAS_NUM_THREADS"] = "1"  # as cak render starts numpy: the process runs one thread
from cak_dsp import batch
print(batch._worker_context().get_start_method())
report = batch.render_folder({src!r}, {dst!r}, batch.RenderJob(preset={preset!r}, texture=0.5), jobs=2)
print(len(report.rendered), len(report.failed))
"""


def test_a_process_of_one_thread_forks_its_workers_and_renders_the_same_files(tmp_path: Path, library) -> None:
    """``cak render``'s process runs one thread: it loads the engine's code and forks its workers
    itself (no fork server to start); a process with another thread uses the fork server. The
    files are the same as a serial render's."""
    root, preset_file = library
    script = FORKING_PROCESS.format(src=str(root), dst=str(tmp_path / "forked"), preset=str(preset_file))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["fork", "18", "2"]
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert batch._worker_context().get_start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
    local = render_folder(root, tmp_path / "local", RenderJob(preset=str(preset_file), texture=0.5), jobs=1)
    assert len(local.rendered) == 18
    for result in local.rendered:
        twin = tmp_path / "forked" / Path(result.destination).relative_to(tmp_path / "local")
        assert np.array_equal(sf.read(result.destination)[0], sf.read(str(twin))[0])


def test_folder_errors(tmp_path: Path, library, capsys: pytest.CaptureFixture) -> None:
    root, preset_file = library
    assert main(["render", str(root), str(root), "--preset", str(preset_file), "-q"]) == 2
    assert "output folder is the input folder" in capsys.readouterr().err
    assert main(["render", str(root), str(tmp_path / "o"), "--preset", str(preset_file), "--cluster",
                 "tcp://127.0.0.1:1", "-q"]) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in capsys.readouterr().err
