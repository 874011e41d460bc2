"""Why a live frame callback costs more than the same frame in a warm loop: the caches.

``cak live`` at 32 or 64 frames computes an STFT frame once every hop (about one callback in
17 or 9 at 48 kHz); the callbacks between do little. Between two callbacks jackd and whatever
else runs on the machine use the caches, so the frame callback finds its code, the FFT's tables
and the engine's state arrays in main memory. This script runs the engine as the live host does
(48 kHz, stereo, the drums preset, c = 0.8, blocks of ``--block`` frames) and times only the
callbacks that compute a frame, in three conditions, round-robin:

* **warm**: callback after callback, nothing in between (an upper bound on what the caches give);
* **cold**: a ``--sweep`` MiB buffer written between callbacks, which evicts the last-level cache
  (32 MiB on the machine these notes were taken on);
* **code warm**: as cold, then one frame of a second engine of the same geometry just before the
  timed callback: the compiled code and the FFT's plan and twiddle tables are back in the caches,
  the timed engine's own state arrays (their size is printed) are not.

So cold minus code-warm is what the code and the FFT tables cost when they come from memory,
and code-warm minus warm what the state arrays cost. About three minutes (the sweeps take most
of it). Prints a table and writes
``cold_callback.png`` and ``cold_callback.json`` to the results folder. Needs only cak. Run
``python benchmarks/cold_callback.py --help``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engine_speed import print_table  # noqa: E402
from cak_dsp import CakEngine  # noqa: E402
from cak_dsp.engine import _FILL  # noqa: E402
from cak_dsp.presets import resolve_preset  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
RATE = 48000
CONDITIONS = ("warm", "cold", "code warm")


@njit(nogil=True)
def _sweep(buffer: np.ndarray) -> None:
    """Write one float64 per 64-byte line of ``buffer``: every line ends up in the cache, dirty."""
    for i in range(0, buffer.shape[0], 8):
        buffer[i] += 1.0


def state_bytes(engine: CakEngine) -> int:
    """Bytes of the engine's state arrays (rings, buffers, windows, accumulators, FIFO)."""
    return sum(a.nbytes for a in engine._state if isinstance(a, np.ndarray))


def frame_callbacks(block: int, seconds: float, sweep_mib: int, repeats: int) -> tuple[dict[str, np.ndarray], int]:
    """Microseconds of each callback that computed a frame, per condition; and the state bytes."""
    preset = resolve_preset("drums")
    engines = {}
    for name in (*CONDITIONS, "other"):
        engine = CakEngine(preset)
        engine.prepare(RATE, max(block, 4096), 2)
        engine.texture = 0.8
        engines[name] = engine
    hop = engines["warm"].geometry.hop
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal((2, int(seconds * RATE)))).astype(np.float32)
    out = np.empty((2, max(block, hop)), np.float32)
    buffer = np.zeros(sweep_mib * (1 << 20) // 8)
    _sweep(buffer[:1024])
    times: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    other_at = 0
    for _ in range(repeats):
        for name in CONDITIONS:  # round-robin: a busy moment of the machine hits every condition alike
            engine = engines[name]
            engine.reset()
            for start in range(0, audio.shape[1] - block, block):
                computes = engine._ist[_FILL] + block >= engine.geometry.n_fft  # the analysis buffer fills
                if name != "warm":
                    _sweep(buffer)
                if computes and name == "code warm":
                    other = engines["other"]
                    piece = audio[:, other_at:other_at + hop]
                    other.process(piece, out=out[:, :hop])  # fills the other engine's buffer: one frame
                    other_at = (other_at + hop) % (audio.shape[1] - hop)
                t0 = time.perf_counter_ns()
                engine.process(audio[:, start:start + block], out=out[:, :block])
                elapsed = (time.perf_counter_ns() - t0) / 1e3
                if computes:
                    times[name].append(elapsed)
    return {name: np.array(t) for name, t in times.items()}, state_bytes(engines["warm"])


def plot(results: dict[int, dict[str, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (block, times) in zip(axes[0], results.items()):
        top = max(np.percentile(t, 99.5) for t in times.values())
        bins = np.linspace(0, top, 60)
        for name, t in times.items():
            ax.hist(t, bins=bins, histtype="step", linewidth=1.5, label=f"{name} (median {np.median(t):.0f} us)")
        period = block / RATE * 1e6
        ax.axvline(0.2 * period if block == 64 else 0.4 * period, color="k", linestyle="--",
                   label=f"target p99 ({'20' if block == 64 else '40'} % of {period:.0f} us)")
        ax.set_title(f"frame callbacks, {block} frames at 48 kHz, stereo")
        ax.set_xlabel("callback time (us)")
        ax.set_ylabel("callbacks")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[32, 64], help="callback sizes (default 32 64)")
    parser.add_argument("--seconds", type=float, default=2.0, help="audio per condition and repeat (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="round-robin repeats (default 3)")
    parser.add_argument("--sweep", type=int, default=48, help="MiB written between callbacks (default 48)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    for name, value, low in (("--seconds", args.seconds, 0.5), ("--repeats", args.repeats, 1),
                             ("--sweep", args.sweep, 1)):
        if not value >= low:
            parser.error(f"{name} must be at least {low}, got {value}")
    if any(b < 1 or b > 4096 for b in args.blocks):
        parser.error(f"--blocks must be 1..4096, got {args.blocks}")
    print(f"{platform.machine()}, Python {platform.python_version()}; 48 kHz stereo, drums preset, c = 0.8, "
          f"{args.sweep} MiB swept between callbacks, {args.repeats} repeat(s)")
    results, summary = {}, {}
    state = 0
    for block in args.blocks:
        results[block], state = frame_callbacks(block, args.seconds, args.sweep, args.repeats)
    print(f"engine state arrays: {state / 1024:.0f} KiB")
    rows = []
    for block, times in results.items():
        period = block / RATE * 1e6
        summary[block] = {}
        for name, t in times.items():
            p50, p99 = float(np.median(t)), float(np.percentile(t, 99))
            summary[block][name] = {"p50_us": p50, "p99_us": p99, "callbacks": int(t.size)}
            rows.append([f"{block}", name, f"{t.size}", f"{p50:.0f}", f"{p99:.0f}", f"{100 * p50 / period:.0f} %",
                         f"{p50 / float(np.median(times['warm'])):.2f}"])
    print_table("Callbacks that compute a frame (us; target p99: 20 % of the period at 64 frames, 40 % at 32)",
                ["block", "condition", "callbacks", "p50", "p99", "p50 share of period", "x warm"], rows)
    args.out.mkdir(parents=True, exist_ok=True)
    plot(results, args.out / "cold_callback.png")
    (args.out / "cold_callback.json").write_text(json.dumps(
        {"state_bytes": state, "sweep_mib": args.sweep, "blocks": {str(b): s for b, s in summary.items()}}, indent=2))
    print(f"wrote {args.out / 'cold_callback.png'} and {args.out / 'cold_callback.json'}")


if __name__ == "__main__":
    main()
