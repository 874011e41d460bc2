"""File rendering speed: chain render real-time factor and folder (batch) throughput.

Measures, in one process (the batch cases start worker processes):

* ``render_file`` of a 10-minute stereo WAV through CAK alone on one core and with its two
  channels on two threads, and through a chain with pedalboard stages (HighpassFilter, CAK,
  Compressor, Reverb), file to file, beside the original project's GUI path on the same file
  (soundfile read, ``gui_path.GuiPath`` per channel, soundfile write), as seconds, times real
  time and speed-up over the GUI path;
* whole processes, as a user runs them: ``cak render`` of a 2-minute stereo song (start-up,
  reading, two passes for the level match, writing) against the published GUI path as a process
  of its own (Python start, torch and librosa imports, the checkpoint, reading the song's mono
  downmix, processing, writing), best of ``--repeats``, per channel, both with Python's bytecode
  cache allowed as installed packages have it;
* ``render_folder`` of a folder of 15 s stereo files at ``--jobs 1`` and ``--jobs 2``, each in a
  process of its own set up as ``cak render`` is: files per second and times real time (worker
  start-up included, as a user sees it; Python's own start and imports are not).

Cases run round-robin over the repeats so machine noise hits them alike. Prints the tables and
writes ``render_speed.png`` and ``render_speed.json`` to the results folder. Needs torch and
librosa (``train`` and ``test`` extras) for the GUI path and the published checkpoint (see
``engine_speed.py``). Run ``python benchmarks/render_speed.py --help``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_speed import (DEFAULT_OUT, DEFAULT_REFERENCE, GUI_NAME, SR, load_reference,  # noqa: E402
                          make_signal, print_table, time_interleaved)

from gui_path import GuiPath  # noqa: E402

from cak_dsp import Cak, Chain, render_file  # noqa: E402

CAK_ONE_CORE = "render_file, CAK only, one core"
CAK_TWO_THREADS = "render_file, CAK only, channels on 2 threads"
WITH_PLUGINS = "render_file (HPF, CAK, Compressor, Reverb), 2 threads"
CAK_PROCESS = "cak render (whole process)"
GUI_PROCESS = "published GUI path (whole process, mono downmix)"
BENCH = Path(__file__).resolve().parent
BATCH_SCRIPT = """
import os, time
os.environ["OPENBLAS_NUM_THREADS"] = "1"  # as cak render starts numpy
from cak_dsp.batch import RenderJob, render_folder
from cak_dsp.jit_cache import load_cached_code_only
load_cached_code_only()
start = time.perf_counter()
report = render_folder({src!r}, {dst!r}, RenderJob(preset={preset!r}, texture={texture!r}, force=True), jobs={jobs!r})
assert not report.failed, report.failed
print(time.perf_counter() - start)
"""
GUI_SCRIPT = """
import json, sys, types, soundfile as sf, torch
sys.path.insert(0, {bench!r})
torch.set_num_threads(1)
from gui_path import GuiPath
data = json.load(open({preset!r}))
ref = types.SimpleNamespace(**data["kernel"], **data["normalization"])
audio, rate = sf.read({src!r}, dtype="float32")
sf.write({dst!r}, GuiPath(ref, {texture!r}).process(audio.mean(axis=1)), rate, subtype="FLOAT")
"""


def chain_cases(preset, texture: float) -> dict[str, tuple[Chain, int]]:
    from pedalboard import Compressor, HighpassFilter, Reverb

    return {CAK_ONE_CORE: (Chain([Cak(preset, texture)]), 1), CAK_TWO_THREADS: (Chain([Cak(preset, texture)]), 2),
            WITH_PLUGINS: (Chain([HighpassFilter(60), Cak(preset, texture), Compressor(-18, 3),
                                  Reverb(0.4, wet_level=0.2)]), 2)}


def gui_file(gui: GuiPath, src: Path, dst: Path) -> None:
    audio, _ = sf.read(str(src), dtype="float32", always_2d=True)
    sf.write(str(dst), gui.process_channels(audio.T).T, SR, subtype="FLOAT")


def time_files(work: Path, preset, gui: GuiPath, texture: float, seconds: float, repeats: int,
               cpu: dict[str, list[float]]) -> dict[str, list[float]]:
    src = work / "long.wav"
    sf.write(str(src), make_signal(seconds).T, SR, subtype="FLOAT")
    chains = chain_cases(preset, texture)
    cases = {name: (lambda c=chain, t=threads, name=name: render_file(src, work / f"{len(name)}.wav", c, force=True,
                                                                    threads=t))
             for name, (chain, threads) in chains.items()}
    cases[GUI_NAME] = lambda: gui_file(gui, src, work / "gui.wav")
    warm = work / "warm.wav"
    sf.write(str(warm), make_signal(2.0).T, SR, subtype="FLOAT")
    for name, (chain, threads) in chains.items():  # load the compiled code before timing
        render_file(warm, work / "warm-out.wav", chain, force=True, threads=threads)
    return time_interleaved(cases, repeats, cpu)


def time_processes(work: Path, preset_file: Path, texture: float, seconds: float, repeats: int,
                   cpu: dict[str, list[float]]) -> dict[str, list[float]]:
    """Wall seconds of ``cak render`` and of the published GUI path, each a whole process."""
    src = work / "song.wav"
    sf.write(str(src), make_signal(seconds, seed=99).T, SR, subtype="PCM_24")
    cak = [str(Path(sys.executable).with_name("cak")), "render", str(src), str(work / "song-cak.wav"), "--preset",
           str(preset_file), "--texture", str(texture), "--force", "-q"]
    gui = [sys.executable, "-c", GUI_SCRIPT.format(bench=str(BENCH), src=str(src), dst=str(work / "song-gui.wav"),
                                                   preset=str(preset_file), texture=texture)]
    env = installed_env()
    for cmd in (cak, gui):  # untimed: compiles the engine (once) and writes both sides' bytecode
        subprocess.run(cmd, check=True, capture_output=True, env=env)

    def timed(cmd: list[str]) -> None:
        subprocess.run(cmd, check=True, capture_output=True, env=env)

    return time_interleaved({CAK_PROCESS: lambda: timed(cak), GUI_PROCESS: lambda: timed(gui)}, repeats, cpu)


def installed_env() -> dict[str, str]:
    """This environment, but with Python's bytecode cache allowed, as an installed package has it
    (pip writes the bytecode; a development shell may set PYTHONDONTWRITEBYTECODE, which would
    make every timed process compile cak's modules from source)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def time_batch(work: Path, preset_file: Path, texture: float, files: int, repeats: int) -> dict[str, list[float]]:
    """Seconds of ``render_folder`` at ``--jobs`` 1 and 2, each timed inside a fresh process set
    up as ``cak render`` sets itself up (:data:`BATCH_SCRIPT`): this process has torch's threads,
    and a process with threads starts its workers from a fork server (:mod:`cak_dsp.batch`)."""
    folder = work / "library"
    folder.mkdir()
    for i in range(files):
        sf.write(str(folder / f"take{i:03d}.wav"), make_signal(15.0, seed=i).T, SR, subtype="PCM_24")
    env = installed_env()

    def run(jobs: int) -> float:
        script = BATCH_SCRIPT.format(src=str(folder), dst=str(work / f"out{jobs}"), preset=str(preset_file),
                                     texture=texture, jobs=jobs)
        done = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env)
        return float(done.stdout.split()[-1])

    run(2)  # untimed: loads the engine's code once
    seconds: dict[str, list[float]] = {f"--jobs {jobs}": [] for jobs in (1, 2)}
    for _ in range(repeats):
        for jobs in (1, 2):
            seconds[f"--jobs {jobs}"].append(run(jobs))
    return seconds


def plot(files: dict[str, dict], batch: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(files)
    a.barh(names, [files[n]["rt"] for n in names], color=["C0", "C2", "C1", "C7"][:len(names)])
    a.set_xscale("log")
    a.set_xlabel("x real time (10-minute stereo file, file to file)")
    a.set_title("Chain render")
    for i, n in enumerate(names):
        a.text(files[n]["rt"], i, f" {files[n]['rt']:.0f}x", va="center")
    jobs = list(batch)
    b.bar(jobs, [batch[j]["files_per_s"] for j in jobs], color="C2")
    b.set_ylabel("files per second (15 s stereo)")
    b.set_title("Folder render")
    for i, j in enumerate(jobs):
        b.text(i, batch[j]["files_per_s"], f"{batch[j]['rt']:.0f}x RT", ha="center", va="bottom")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the stereo file (default 600)")
    parser.add_argument("--files", type=int, default=24, help="15 s files in the batch folder (default 24)")
    parser.add_argument("--song", type=float, default=120.0,
                        help="length of the stereo song for the whole-process comparison (default 120 s)")
    parser.add_argument("--texture", type=float, default=0.8, help="texture amount (default 0.8)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats of each case (default 2)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help=f"folder with the published checkpoint and stats (default {DEFAULT_REFERENCE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="smoke run: 60 s file, 6 batch files, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.files, args.repeats, args.song = 60.0, 6, 1, 20.0

    import torch

    torch.set_num_threads(1)
    preset = load_reference(args.reference)
    gui = GuiPath(preset, args.texture)
    print(f"{platform.machine()}, Python {platform.python_version()}; {args.seconds:g} s stereo file, "
          f"{args.files} x 15 s batch, texture {args.texture:g}, {args.repeats} repeat(s)")
    work = Path(tempfile.mkdtemp(prefix="cak-render-speed-"))
    try:
        preset.save(work / "published.json")
        file_cpu: dict[str, list[float]] = {}
        file_times = time_files(work, preset, gui, args.texture, args.seconds, args.repeats, file_cpu)
        process_cpu: dict[str, list[float]] = {}
        process_times = time_processes(work, work / "published.json", args.texture, args.song, args.repeats,
                                       process_cpu)
        batch_times = time_batch(work, work / "published.json", args.texture, args.files, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    gui_best = min(file_times[GUI_NAME])
    files = {name: {"best_s": min(t), "rt": args.seconds / min(t), "speedup": gui_best / min(t),
                    "best_cpu_s": min(file_cpu[name])} for name, t in file_times.items()}
    batch_audio = 15.0 * args.files
    batch = {name: {"best_s": min(t), "files_per_s": args.files / min(t), "rt": batch_audio / min(t)}
             for name, t in batch_times.items()}
    one_core = files[CAK_ONE_CORE]["best_s"]
    print_table(f"File render: {args.seconds:g} s stereo WAV, file to file, in one process (target: 2 threads "
                ">= 1.7x one core)",
                ["path", "best s", "x real time", "x faster than GUI path", "x one core", "best CPU s"],
                [[n, f"{f['best_s']:.2f}", f"{f['rt']:.0f}", f"{f['speedup']:.1f}", f"{one_core / f['best_s']:.2f}",
                  f"{f['best_cpu_s']:.2f}"] for n, f in files.items()])
    processes = {name: {"best_s": min(t), "best_cpu_s": min(process_cpu[name]),
                        "channels": 2 if name == CAK_PROCESS else 1} for name, t in process_times.items()}
    gui_wall, gui_cpu = processes[GUI_PROCESS]["best_s"], processes[GUI_PROCESS]["best_cpu_s"]
    print_table(f"Whole process: {args.song:g} s stereo song, best of {args.repeats} (target: cak >= 20x the published "
                "GUI path per channel)",
                ["process", "best s", "channels", "s per channel", "x faster per channel", "best CPU s",
                 "CPU s per channel", "x less CPU per channel"],
                [[n, f"{p['best_s']:.2f}", f"{p['channels']}", f"{p['best_s'] / p['channels']:.2f}",
                  f"{gui_wall / (p['best_s'] / p['channels']):.1f}", f"{p['best_cpu_s']:.2f}",
                  f"{p['best_cpu_s'] / p['channels']:.2f}", f"{gui_cpu / (p['best_cpu_s'] / p['channels']):.1f}"]
                 for n, p in processes.items()])
    one = batch["--jobs 1"]["best_s"]
    print_table(f"Folder render: {args.files} x 15 s stereo, 24-bit WAV (worker start-up included; target: "
                "--jobs 2 >= 1.8x --jobs 1)",
                ["jobs", "best s", "files / s", "x real time", "speed-up over --jobs 1"],
                [[n, f"{b['best_s']:.2f}", f"{b['files_per_s']:.2f}", f"{b['rt']:.0f}", f"{one / b['best_s']:.2f}"]
                 for n, b in batch.items()])
    args.out.mkdir(parents=True, exist_ok=True)
    plot(files, batch, args.out / "render_speed.png")
    (args.out / "render_speed.json").write_text(json.dumps({"files": files, "processes": processes, "batch": batch,
                                                            "seconds": args.seconds, "song_seconds": args.song,
                                                            "batch_files": args.files}, indent=2))
    print(f"wrote {args.out / 'render_speed.png'} and {args.out / 'render_speed.json'}")


if __name__ == "__main__":
    main()
