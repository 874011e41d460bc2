"""Start-up cost: importing the core, and a warm ``cak render`` of a short file as a whole process.

Measures, in fresh processes on this machine:

* ``python -X importtime -c "import cak_dsp"``: the total import time and the modules that
  cost most (cumulative);
* ``cak render in.wav out.wav`` of a 1 s stereo file, warm (the engine already compiled: the
  first run, which may compile and writes the bytecode, is reported apart), best and median of
  ``--repeats`` runs, wall and CPU seconds, beside ``python -c pass`` (the interpreter's own
  start) in the same run;
  with ``--baseline DIR`` also the same command run from another checkout (its ``cak_dsp`` and
  ``cli`` first on ``PYTHONPATH``), interleaved, so the two compare in one run.

Prints a table and writes ``startup.png`` and ``startup.json`` to the results folder. Run
``python benchmarks/startup.py --help``.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engine_speed import print_table  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
TARGET_WARM_RENDER_S = 0.5


def import_times() -> tuple[float, list[tuple[str, float]]]:
    """Total seconds to import cak_dsp, and (module, cumulative seconds) for the costliest."""
    cmd = [sys.executable, "-X", "importtime", "-c", "import cak_dsp"]
    subprocess.run(cmd, capture_output=True, check=True, env=checkout_env(ROOT))  # writes the bytecode
    result = subprocess.run(cmd, capture_output=True, text=True, check=True, env=checkout_env(ROOT))
    rows = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if match:
            rows.append((match.group(4), int(match.group(2)) * 1e-6, len(match.group(3))))
    total = next(seconds for name, seconds, _ in reversed(rows) if name == "cak_dsp")
    top_level = sorted(((n, s) for n, s, depth in rows if depth <= 3), key=lambda r: -r[1])
    return total, top_level[:12]


def cak_command() -> list[str]:
    """The installed ``cak`` script beside this interpreter, else the CLI module."""
    script = Path(sys.executable).with_name("cak")
    return [str(script)] if script.exists() else [shutil.which("cak") or "cak"]


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one run of ``cmd``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def checkout_env(directory: Path) -> dict[str, str]:
    """The environment that makes ``cak`` import the checkout in ``directory``."""
    import os

    shim = directory / ".shim"
    paths = [str(shim)] if shim.is_dir() else []
    # bytecode cached, as an installed package has it (a development shell may forbid writing it)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": os.pathsep.join([*paths, str(directory)])}


def render_times(repeats: int, baseline: Path | None = None) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU seconds per command (lists of runs)."""
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        audio = 0.1 * np.random.default_rng(0).standard_normal((44100, 2))
        sf.write(folder / "in.wav", audio, 44100, subtype="PCM_24")
        render = [*cak_command(), "render", "in.wav", "out.wav", "--force", "-q"]
        commands = {"python -c pass": ([sys.executable, "-c", "pass"], None),
                    "cak render, 1 s stereo (warm)": (render, checkout_env(ROOT))}
        if baseline is not None:
            commands[f"cak render from {baseline} (warm)"] = (render, checkout_env(baseline))
        first = {name: timed(cmd, folder, env) for name, (cmd, env) in commands.items() if "render" in name}
        walls: dict[str, list[float]] = {f"first {name} (may compile)": [w] for name, (w, _) in first.items()}
        cpus: dict[str, list[float]] = {f"first {name} (may compile)": [c] for name, (_, c) in first.items()}
        for _ in range(repeats):
            for name, (cmd, env) in commands.items():
                wall, cpu = timed(cmd, folder, env)
                walls.setdefault(name, []).append(wall)
                cpus.setdefault(name, []).append(cpu)
        return walls, cpus


def plot(imports: list[tuple[str, float]], times: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
    names = [n for n, _ in imports][::-1]
    ax1.barh(names, [s for _, s in imports][::-1])
    ax1.set(xlabel="seconds (cumulative)", title="import cak_dsp: costliest modules")
    labels = list(times)
    ax2.barh(labels, [min(times[k]) for k in labels], color="C1")
    ax2.axvline(TARGET_WARM_RENDER_S, color="k", ls="--", label=f"target {TARGET_WARM_RENDER_S:g} s (warm render)")
    ax2.set(xlabel="seconds (best run)", title="whole process")
    ax2.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each command (default 5)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout of cak to time the same render from (e.g. the main branch)")
    args = parser.parse_args(argv)
    total, imports = import_times()
    times, cpu = render_times(args.repeats, args.baseline)
    print_table(f"import cak_dsp: {total:.3f} s in all; costliest modules (cumulative s)", ["module", "seconds"],
                [[name, f"{seconds:.3f}"] for name, seconds in imports])
    print_table(f"Whole process (target: warm render under {TARGET_WARM_RENDER_S:g} s)",
                ["command", "best s", "median s", "best CPU s", "median CPU s"],
                [[name, f"{min(t):.3f}", f"{float(np.median(t)):.3f}", f"{min(cpu[name]):.3f}",
                  f"{float(np.median(cpu[name])):.3f}"] for name, t in times.items()])
    args.out.mkdir(parents=True, exist_ok=True)
    plot(imports, times, args.out / "startup.png")
    summary = {"import_cak_dsp_s": total, "imports": imports, "times_s": times, "cpu_s": cpu}
    (args.out / "startup.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out / 'startup.png'} and {args.out / 'startup.json'}")


if __name__ == "__main__":
    main()
