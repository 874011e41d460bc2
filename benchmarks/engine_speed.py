"""Engine speed benchmark: streaming per-hop cost and offline real-time factor.

Measures, in one process:

* where one hop's time goes (``hop_breakdown.py``: each step of the engine timed in a jitted
  loop on one channel) beside the FFT pair (``r2c`` + ``c2r``, the floor), same run;
* the streaming engine's cost per hop (44.1 kHz, hop 512, one frame per ``process`` call),
  mono and stereo, reported per channel;
* the offline ``render`` of a stereo file (2 minutes by default) on one core and with the
  channels on two threads, beside the same file processed by a restatement of the original
  project's GUI path (gloame-ai/cak-audio, ``cak_gui_minimal.py``,
  ``AudioProcessor.process_audio``: librosa STFT + torch conv2d in 15 s chunks, one thread), so
  the speed-up is a ratio taken on the same machine at the same time.

It also reports how far the engine's output is from the GUI path's output (untimed).
Prints a table and writes ``engine_speed.png`` and ``engine_speed.json`` to the results folder.
Run ``python benchmarks/engine_speed.py --help``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from cak_dsp import CakEngine, Preset, render

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gui_path import GuiPath  # noqa: E402
from hop_breakdown import hop_breakdown  # noqa: E402

SR = 44100
N_FFT = 2048
HOP = 512
MODES = ("gain", "reference")
DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DRUMKIT = Path("/usr/share/hydrogen/data/drumkits/Millo_MultiLayered3")
TARGET_HOP_FFT = 2.0  # a hop per channel within twice the FFT pair's time
TARGET_SPEEDUP_ONE_CORE = 10.0
TARGET_SPEEDUP_TWO_CORES = 20.0
FFT_FLOOR = "FFT pair (r2c + c2r, the floor)"
WHOLE_HOP = "whole hop (_process, one hop per call)"
GUI_NAME = "GUI path (librosa + torch)"


def load_reference(directory: Path) -> Preset:
    """The published checkpoint and stats in ``directory``, imported as a preset."""
    files = [directory / "final_wgan_grain.pt", directory / "global_normalization_stats.json"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        sys.exit(f"error: reference file(s) not found: {', '.join(missing)}\n"
                 "pass --reference DIR (the folder holding the published checkpoint and stats)")
    from cak_train.import_checkpoint import import_checkpoint

    return import_checkpoint(*files)


def drum_hits() -> list[np.ndarray]:
    """Kick, snare and hi-hat: Hydrogen drum samples if installed, else synthesized."""
    names = ("bd_01.flac", "sd_01.flac", "hh_01.flac")
    if all((DRUMKIT / n).is_file() for n in names):
        import soundfile as sf

        hits = [sf.read(DRUMKIT / n, dtype="float64", always_2d=True) for n in names]
        if all(sr == SR for _, sr in hits):
            return [data.mean(axis=1) for data, _ in hits]
    rng = np.random.default_rng(1)
    t = np.arange(int(0.4 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 12)
    snare = rng.standard_normal(t.size) * np.exp(-t * 25) + 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t * 20)
    hat = np.diff(rng.standard_normal(t.size + 1)) * np.exp(-t * 80)
    return [kick, snare, hat]


def make_signal(seconds: float, seed: int = 0) -> np.ndarray:
    """A deterministic stereo test mix: drums at 120 BPM, sine chords, noise bursts and clicks."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros((2, n))
    t = np.arange(n) / SR
    kick, snare, hat = drum_hits()
    eighth = SR // 4  # 120 BPM
    for i, start in enumerate(range(0, n, eighth)):
        hits = [(hat, 0.3 + 0.2 * rng.random(), 0.7)]
        if i % 4 == 0:
            hits.append((kick, 1.0, 0.5))
        if i % 4 == 2:
            hits.append((snare, 0.8, 0.4))
        for hit, gain, pan in hits:
            m = min(hit.size, n - start)
            out[0, start:start + m] += gain * (1 - pan) * hit[:m]
            out[1, start:start + m] += gain * pan * hit[:m]
    for bar, start in enumerate(range(0, n, 4 * SR // 2)):  # a chord per bar, slowly detuned
        end = min(start + 2 * SR, n)
        root = 110.0 * 2 ** ((bar * 5 % 12) / 12)
        for k, ratio in enumerate((1.0, 1.26, 1.5, 2.0)):
            tone = 0.05 * np.sin(2 * np.pi * root * ratio * t[start:end] * (1 + 0.002 * k))
            out[k % 2, start:end] += tone
    for start in rng.integers(0, n - SR // 4, size=int(seconds)):  # noise bursts, one a second
        length = int(rng.integers(SR // 50, SR // 4))
        burst = rng.standard_normal((2, length)) * np.hanning(length) * 0.1
        out[:, start:start + length] += burst
    for start in rng.integers(0, n, size=int(seconds * 2)):  # clicks
        out[:, start] += rng.choice([-0.8, 0.8])
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


def time_hops(preset: Preset, mode: str, texture: float, audio: np.ndarray, repeats: int) -> np.ndarray:
    """Seconds per ``process`` call of one hop, divided by the channel count, shaped (repeats, calls).

    The stream runs on across repeats (no reset), so every timed call processes exactly one frame.
    """
    channels = audio.shape[0]
    blocks = [np.ascontiguousarray(audio[:, i:i + HOP]) for i in range(0, audio.shape[1] - HOP + 1, HOP)]
    engine = CakEngine(preset, mode=mode)
    engine.prepare(sample_rate=SR, max_block=HOP, channels=channels)
    engine.texture = texture
    for block in blocks[:64]:  # fill the analysis window and warm caches
        engine.process(block)
    times = np.empty((repeats, len(blocks)))
    clock = time.perf_counter_ns
    for r in range(repeats):
        for i, block in enumerate(blocks):
            t0 = clock()
            engine.process(block)
            times[r, i] = clock() - t0
    return times * 1e-9 / channels


def hop_stats(times: np.ndarray) -> dict[str, float]:
    """Microseconds: the fastest call, and the median and 99th percentile of the quietest repeat."""
    return {"min": float(times.min()) * 1e6, "median": float(np.median(times, axis=1).min()) * 1e6,
            "p99": float(np.percentile(times, 99, axis=1).min()) * 1e6, "max": float(times.max()) * 1e6}


def time_interleaved(cases: dict[str, Callable[[], object]], repeats: int,
                     cpu: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Wall seconds of each case, run round-robin so machine noise hits all of them alike.

    ``cpu``, when given, receives each run's CPU seconds (this process's threads and the child
    processes it waited for): on a shared machine the CPU time of a one-core case is what it
    costs, whatever else ran meanwhile, where its wall time also counts the waits for a core.
    """
    import resource

    def cpu_now() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    seconds: dict[str, list[float]] = {name: [] for name in cases}
    for name in cases:
        if cpu is not None:
            cpu[name] = []
    for _ in range(repeats):
        for name, fn in cases.items():
            c0 = cpu_now()
            t0 = time.perf_counter()
            fn()
            seconds[name].append(time.perf_counter() - t0)
            if cpu is not None:
                cpu[name].append(cpu_now() - c0)
    return seconds


def error_db(x: np.ndarray, ref: np.ndarray) -> float:
    """Energy of ``x - ref`` relative to ``ref``, in dB."""
    return float(10 * np.log10(np.sum((x - ref) ** 2) / np.sum(ref**2) + 1e-30))


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}\n{line}")
    for row in [header, *rows]:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if row is header:
            print(line)


def plot(hops: dict[str, np.ndarray], offline: dict[str, dict[str, float]], floor_us: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.5))
    all_us = np.concatenate([t.ravel() * 1e6 for t in hops.values()])
    bins = np.geomspace(max(all_us.min(), 0.1), np.percentile(all_us, 99.9), 80)
    for name, t in hops.items():
        ax1.hist(t.ravel() * 1e6, bins=bins, histtype="step", label=name)
    ax1.axvline(floor_us, color="C7", ls=":", label=f"FFT pair {floor_us:.1f} us")
    ax1.axvline(TARGET_HOP_FFT * floor_us, color="k", ls="--", label=f"target {TARGET_HOP_FFT:g}x the FFT pair")
    ax1.set(xscale="log", xlabel="us per hop per channel", ylabel="calls",
            title="Streaming engine: cost of one 512-sample hop")
    ax1.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax1.legend(fontsize=8)
    names = list(offline)
    rt = [offline[n]["rt_per_channel"] for n in names]
    ax2.barh(names, rt, color=["C0" if "GUI" not in n else "C3" for n in names])
    gui_rt = next(offline[n]["rt_per_channel"] for n in names if "GUI" in n)
    ax2.axvline(TARGET_SPEEDUP_ONE_CORE * gui_rt, color="k", ls="--", label=f"target {TARGET_SPEEDUP_ONE_CORE:g}x GUI, one core")
    ax2.axvline(TARGET_SPEEDUP_TWO_CORES * gui_rt, color="k", ls=":", label=f"target {TARGET_SPEEDUP_TWO_CORES:g}x GUI, two cores")
    for i, v in enumerate(rt):
        ax2.text(v, i, f" {v:,.0f}x", va="center")
    ax2.set(xscale="log", xlim=(min(rt) / 3, max(rt) * 8), xlabel="x real time per channel (best run)",
            title="Offline render")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def time_offline(audio: np.ndarray, preset: Preset, gui: GuiPath, texture: float,
                 repeats: int, cpu: dict[str, list[float]]) -> dict[str, list[float]]:
    """Wall seconds of each engine mode's ``render`` on one core, of the default mode with the
    channels on two threads, and of the GUI path, on the whole file."""
    warm = audio[:, : 2 * SR]
    gui.process_channels(warm)
    cases: dict[str, Callable[[], object]] = {}
    for mode, threads in [(m, 1) for m in MODES] + [("gain", 2)]:
        render(warm, SR, preset, texture=texture, mode=mode, threads=threads)  # compile before timing
        cases[offline_name(mode, threads)] = lambda mode=mode, threads=threads: render(
            audio, SR, preset, texture=texture, mode=mode, threads=threads)
    cases[GUI_NAME] = lambda: gui.process_channels(audio)
    return time_interleaved(cases, repeats, cpu)


def offline_name(mode: str, threads: int) -> str:
    return f"engine render ({mode}, {'one core' if threads == 1 else f'{threads} threads'})"


def difference_from_gui(audio: np.ndarray, preset: Preset, gui: GuiPath, texture: float) -> dict[str, dict[str, float]]:
    """dB difference of each mode's render from the GUI path before its RMS match and soft clip.

    Against the GUI's 15 s chunks, and against its per-chunk math applied to the whole file in
    one piece: the chunks after the first start off the 512-sample frame grid (7.5 s is not a
    multiple of 512), are zero-padded at their ends and averaged where they overlap.
    """
    chunked = np.stack([gui.spectral(ch) for ch in audio])
    one_piece = np.stack([gui.process_chunk(ch) for ch in audio])
    result = {}
    for mode in MODES:
        # the raw published level, no soft clip: what the GUI path computes before its RMS match and tanh
        out = render(audio, SR, preset, texture=texture, mode=mode, level="off", soft_clip=False).astype(np.float64)
        result[mode] = {"chunked_db": error_db(out, chunked), "one_piece_db": error_db(out, one_piece)}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the stereo test file (default 120)")
    parser.add_argument("--texture", type=float, default=0.8, help="texture amount (default 0.8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats of each case (default 3)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help=f"folder with final_wgan_grain.pt and global_normalization_stats.json "
                             f"(default {DEFAULT_REFERENCE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true", help="smoke run: 20 s file, one repeat")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 20.0, 1

    import torch

    torch.set_num_threads(1)  # the GUI path on one core, like the single-threaded engine
    ref = load_reference(args.reference)
    preset = ref
    gui = GuiPath(ref, args.texture)
    audio = make_signal(args.seconds)
    channels, n = audio.shape
    print(f"{platform.machine()}, Python {platform.python_version()}, torch {torch.__version__} (1 thread); "
          f"test file {args.seconds:g} s stereo at {SR} Hz, texture {args.texture:g}, {args.repeats} repeat(s)")

    breakdown = hop_breakdown(preset, audio[0], SR, args.texture)
    floor_us = breakdown[FFT_FLOOR]
    print_table(
        f"Where a hop's time goes: one channel, {HOP}-sample hop, each step's best of 25 x 300 calls in a jitted loop "
        f"(target: whole hop <= {TARGET_HOP_FFT:g}x the FFT pair)",
        ["step", "us", "x FFT pair", "share of whole hop"],
        [[name, f"{us:.2f}", f"{us / floor_us:.2f}", f"{us / breakdown[WHOLE_HOP]:.0%}"] for name, us in breakdown.items()],
    )
    hops = {f"{mode}, {'mono' if c == 1 else 'stereo'}": time_hops(preset, mode, args.texture, audio[:c], args.repeats)
            for mode in MODES for c in (1, 2)}
    cpu: dict[str, list[float]] = {}
    seconds = time_offline(audio, preset, gui, args.texture, args.repeats, cpu)
    gui_s = seconds[GUI_NAME]
    offline = {name: {"best_s": min(t), "median_s": float(np.median(t)),
                      "rt_per_channel": args.seconds * channels / min(t),
                      "speedup_best": min(gui_s) / min(t), "speedup_median": float(np.median(gui_s) / np.median(t)),
                      "best_cpu_s": min(cpu[name]), "speedup_cpu": min(cpu[GUI_NAME]) / min(cpu[name])}
               for name, t in seconds.items()}
    stats = {name: hop_stats(t) for name, t in hops.items()}
    gui_hop_us = min(gui_s) / (channels * (n // HOP)) * 1e6
    budget_us = HOP / SR * 1e6

    print_table(
        f"Streaming: one {HOP}-sample hop per process() call (Python call included), us per channel; median and p99 "
        f"of the quietest repeat; FFT pair {floor_us:.1f} us in this run",
        ["engine", "calls", "min", "median", "p99", "max", "median x FFT pair", "% of hop budget", "x faster than GUI path"],
        [[name, f"{hops[name].size}", f"{st['min']:.1f}", f"{st['median']:.1f}", f"{st['p99']:.1f}",
          f"{st['max']:.0f}", f"{st['median'] / floor_us:.2f}", f"{st['median'] / budget_us:.2%}",
          f"{gui_hop_us / st['median']:.1f}"]
         for name, st in stats.items()],
    )
    print_table(
        f"Offline: {args.seconds:g} s stereo file (targets: >= {TARGET_SPEEDUP_ONE_CORE:g}x the GUI path per channel on "
        f"one core, >= {TARGET_SPEEDUP_TWO_CORES:g}x with both cores; the GUI path runs on one thread)",
        ["path", "best s", "median s", "x real time / channel", "speed-up (best)", "speed-up (median)", "best CPU s",
         "speed-up (CPU)"],
        [[name, f"{o['best_s']:.3f}", f"{o['median_s']:.3f}", f"{o['rt_per_channel']:,.0f}",
          f"{o['speedup_best']:.1f}", f"{o['speedup_median']:.1f}", f"{o['best_cpu_s']:.3f}",
          f"{o['speedup_cpu']:.1f}" if "threads" not in name else "-"] for name, o in offline.items()],
    )
    difference = difference_from_gui(audio, preset, gui, args.texture)
    print_table(
        "Output difference from the GUI path before its RMS match and soft clip (untimed; lower is closer)",
        ["engine render", "GUI path, 15 s chunks (dB)", "GUI math, file in one piece (dB)"],
        [[mode, f"{d['chunked_db']:.1f}", f"{d['one_piece_db']:.1f}"] for mode, d in difference.items()],
    )

    args.out.mkdir(parents=True, exist_ok=True)
    plot(hops, offline, floor_us, args.out / "engine_speed.png")
    summary = {"seconds": args.seconds, "channels": channels, "texture": args.texture, "repeats": args.repeats,
               "hop_breakdown_us": breakdown, "per_hop_us": stats, "gui_path_per_hop_us": gui_hop_us, "offline": offline,
               "difference_from_gui_db": difference}
    (args.out / "engine_speed.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out / 'engine_speed.png'} and {args.out / 'engine_speed.json'}")


if __name__ == "__main__":
    main()
