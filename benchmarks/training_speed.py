"""Training throughput of ``cak train fit`` (cells/s, s per epoch of a 200 x 15 s corpus) and the kernels it learned.

One epoch of the published recipe is 400 pairs (200 identity + 200 texture pairs) in batches of 16,
each batch 5 critic steps (with gradient penalty) and one generator step. A crop run sees one crop
per pair, so its epoch costs 25 batches of crops; the full-spectrogram run (1025 x 1292 cells per
pair) is timed on a smaller batch and scaled linearly. Then the kernels of trained presets (the shipped
ones and any ``--kernels`` given) are listed beside the published checkpoint's. Writes
``benchmarks/results/training_speed.png`` and ``training_speed.json``.

    python benchmarks/training_speed.py [--threads 1 2] [--crops 32x32 64x64] [--full] [--repeats 5]
                                        [--kernels out/*.json] [--reference DIR] [--no-speed]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cak_train.fit import FitConfig, Trainer, default_device  # noqa: E402
from cak_train.model import audit_stats  # noqa: E402

CORPUS_PAIRS = 400
BATCH = 16
FULL_SHAPE = (1025, 1 + 15 * 44100 // 512)
TARGET_100_EPOCHS_S = 600.0
RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = Path(__file__).resolve().parents[1] / "presets"
DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def time_batch(crop: tuple[int, int], batch: int, device: torch.device, repeats: int) -> float:
    """Median seconds of one training batch (5 critic + 1 generator step) on random spectrogram crops."""
    trainer = Trainer(FitConfig(crop=crop, batch_size=batch), device)
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.rand(batch, 1, *crop, generator=gen).to(device) for _ in range(2))
    c, mixes = torch.rand(batch, generator=gen).to(device), torch.rand(5, batch, generator=gen).to(device)
    stats = torch.from_numpy(np.stack([audit_stats(s[0]) for s in x.cpu().numpy()])).float().to(device)
    trainer.step(x, y, c, mixes, stats)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.step(x, y, c, mixes, stats)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def initial_kernel(seed: int, causal: bool) -> np.ndarray:
    """The 3x3 kernel ``cak train fit --seed SEED`` starts from (Xavier normal, gain 0.1)."""
    trainer = Trainer(FitConfig(seed=seed, causal=causal), torch.device("cpu"))
    return trainer.detector.kernel().detach().double().numpy()[0, 0]


def kernel_row(name: str, weight: Any, bias: float, scale: float, provenance: dict[str, Any]) -> dict[str, Any]:
    """One row of the kernel table: the 3x3 kernel, bias, scale, how it was trained, its final W and, when the
    seed is known, how far training moved it from its initial kernel (mean and spread over the taps)."""
    w = np.asarray(weight, dtype=float)
    corpus = provenance.get("corpus", {})
    shift = spread = None
    if isinstance(provenance.get("seed"), int):
        causal = bool(provenance.get("causal"))
        moved = (w - initial_kernel(provenance["seed"], causal))[:, : 2 if causal else 3]
        shift, spread = round(float(moved.mean()), 4), round(float(moved.std()), 4)
    return {"name": name, "weight": w.round(4).tolist(), "bias": round(bias, 4), "scale": round(scale, 4),
            "mean_tap": round(float(w.mean()), 4), "positive_taps": int((w > 0).sum()),
            "shift_from_init": shift, "spread_of_shift": spread,
            "segments": corpus.get("segments"), "labels": provenance.get("label_mode"), "crop": provenance.get("crop"),
            "audit": provenance.get("audit", "crop"), "seed": provenance.get("seed"),
            "epochs": provenance.get("epochs"), "seconds": provenance.get("train_seconds"),
            "wasserstein_d": provenance.get("final_losses", {}).get("wasserstein_d")}


def published_row(reference: Path) -> dict[str, Any] | None:
    """The published checkpoint's kernel and final W (200 x 15 s, full spectrograms, 100 epochs), if present."""
    path = reference / "final_wgan_grain.pt"
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    gen, history = state["generator"], state.get("history", {})
    provenance = {"corpus": {"segments": 200}, "label_mode": "random", "crop": "full", "audit": "spectrogram",
                  "epochs": len(history.get("g_loss", [])), "train_seconds": "~2 h (Apple M4)",
                  "final_losses": {"wasserstein_d": history["wasserstein_d"][-1]} if history else {}}
    return kernel_row("published (final_wgan_grain.pt)", gen["cak.detector.conv.weight"][0, 0].numpy(),
                      float(gen["cak.detector.conv.bias"]), float(gen["cak.scale"]), provenance)


def kernel_rows(paths: list[Path], reference: Path) -> list[dict[str, Any]]:
    """The published kernel (if found) then each trained preset's."""
    rows = [row] if (row := published_row(reference)) else []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        k = data["kernel"]
        rows.append(kernel_row(path.stem, k["weight"], k["bias"], k["scale"], data.get("provenance", {})))
    return rows


def print_kernels(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'kernel':<34} {'segs':>4} {'labels':>7} {'crop':>5} {'audit':>11} {'seed':>4} {'s':>6} "
          f"{'W':>6} {'mean':>6} {'>0':>3} {'moved':>13}  kernel rows (freq -1, 0, +1), bias, scale")
    for r in rows:
        w = " ".join("[" + " ".join(f"{v:+.3f}" for v in line) + "]" for line in r["weight"])
        wd = "" if r["wasserstein_d"] is None else f"{r['wasserstein_d']:.2f}"
        secs = r["seconds"] if isinstance(r["seconds"], str) else f"{r['seconds'] or 0:.0f}"
        moved = "" if r["shift_from_init"] is None else f"{r['shift_from_init']:+.3f}+-{r['spread_of_shift']:.3f}"
        print(f"{r['name'][:34]:<34} {r['segments'] or '':>4} {r['labels'] or '':>7} {r['crop'] or '':>5} "
              f"{r['audit']:>11} {'' if r['seed'] is None else r['seed']:>4} {secs:>6} {wd:>6} {r['mean_tap']:+.3f} "
              f"{r['positive_taps']:>3} {moved:>13}  {w}  b {r['bias']:+.3f}  s {r['scale']:.3f}")


def plot(speed: list[tuple[str, str, float]], kernels: list[dict[str, Any]], path: Path) -> None:
    """Minutes per 100 epochs as bars, then every kernel as a heat map on one colour scale (8 per row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(max(len(kernels), 1), 8)
    kernel_rows = -(-len(kernels) // cols)
    bar_height = 0.35 * len(speed) + 1.2 if speed else 0.0
    fig = plt.figure(figsize=(1.9 * cols + 1.2, bar_height + 2.3 * kernel_rows + 0.3))
    grid = fig.add_gridspec(1 + kernel_rows, cols + 1, height_ratios=[max(bar_height, 1e-3)] + [2.3] * kernel_rows,
                            width_ratios=[1] * cols + [0.08], hspace=0.9, wspace=0.35)
    if speed:
        ax = fig.add_subplot(grid[0, 1:cols])
        ax.barh([f"{d}  {n}" for d, n, _ in speed], [100 * e / 60 for _, _, e in speed])
        ax.axvline(TARGET_100_EPOCHS_S / 60, color="k", ls="--", label="10 min target")
        ax.set_xscale("log")
        ax.set_xlabel("minutes for 100 epochs of a 200 x 15 s corpus")
        ax.invert_yaxis()
        ax.legend()
    if kernels:
        limit = max(abs(v) for r in kernels for line in r["weight"] for v in line)
        for k, r in enumerate(kernels):
            ax = fig.add_subplot(grid[1 + k // cols, k % cols])
            weight = np.array(r["weight"])
            image = ax.imshow(weight, cmap="RdBu_r", vmin=-limit, vmax=limit, origin="lower")
            for (i, j), v in np.ndenumerate(weight):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
            seed = "" if r["seed"] is None else f"seed {r['seed']}, "
            moved = "" if r["shift_from_init"] is None else f", moved {r['shift_from_init']:+.3f}"
            ax.set_title(f"{r['name'][:22]}\n{r['segments']} segs, {r['crop']}, {r['audit'][:5]}. audit\n"
                         f"{seed}W {r['wasserstein_d'] or 0:.2f}{moved}", fontsize=6)
            ax.set_xticks([0, 1, 2], ["t-1", "t", "t+1"], fontsize=6)
            ax.set_yticks([0, 1, 2], ["f-1", "f", "f+1"], fontsize=6)
        fig.colorbar(image, cax=fig.add_subplot(grid[1:, cols]), label="kernel weight")
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts (default 1 2)")
    parser.add_argument("--crops", nargs="+", default=["32x32", "64x32", "64x64", "128x128"], help="BINSxFRAMES")
    parser.add_argument("--full", action="store_true", help="also time full spectrograms (slow on a CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-speed", action="store_true",
                        help="only the kernel table (the plot reuses the last saved speed rows)")
    parser.add_argument("--kernels", type=Path, nargs="*", default=[],
                        help="more trained presets to list (the shipped presets/*.json always are)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="folder holding the published final_wgan_grain.pt (default ../shared/reference)")
    args = parser.parse_args(argv)
    crops = [tuple(int(v) for v in s.split("x")) for s in args.crops]
    shapes = [(crop, BATCH) for crop in crops] + ([(FULL_SHAPE, 1)] if args.full else [])
    setups = [] if args.no_speed else [(f"cpu x{n}", torch.device("cpu"), n) for n in args.threads]
    if not args.no_speed and default_device().type == "cuda":
        setups.append((torch.cuda.get_device_name(0), torch.device("cuda"), None))
    rows, speed = [], []
    if setups:
        print(f"{'device':<24} {'input':>10} {'s/batch':>9} {'cells/s':>12} {'s/epoch':>9} {'100 epochs':>11}  "
              "(200 x 15 s corpus)")
    for label, device, threads in setups:
        if threads:
            torch.set_num_threads(threads)
        for shape, batch in shapes:
            seconds = time_batch(shape, batch, device, args.repeats) * BATCH / batch
            cells = BATCH * shape[0] * shape[1] / seconds
            epoch = seconds * CORPUS_PAIRS / BATCH
            name = "full" if shape == FULL_SHAPE else f"{shape[0]}x{shape[1]}"
            rows.append({"device": label, "input": name, "seconds_per_batch": seconds, "cells_per_second": cells,
                         "seconds_per_epoch": epoch, "minutes_per_100_epochs": 100 * epoch / 60})
            speed.append((label, name, epoch))
            flag = "" if 100 * epoch <= TARGET_100_EPOCHS_S else "  (over the 10 min target)"
            print(f"{label:<24} {name:>10} {seconds:9.3f} {cells:12.3g} {epoch:9.1f} {100 * epoch / 60:9.1f} min{flag}")
    presets = sorted(PRESETS.glob("*.json"))
    kernels = kernel_rows(presets + [p for p in args.kernels if p.resolve() not in {q.resolve() for q in presets}],
                          args.reference)
    print_kernels(kernels)
    results = RESULTS / "training_speed.json"
    if args.no_speed and results.exists():
        rows = json.loads(results.read_text(encoding="utf-8")).get("speed", [])
        speed = [(r["device"], r["input"], r["seconds_per_epoch"]) for r in rows]
    out = RESULTS / "training_speed.png"
    plot(speed, kernels, out)
    results.write_text(json.dumps({"speed": rows, "kernels": kernels}, indent=1), encoding="utf-8")
    print(f"wrote {out} and {results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
