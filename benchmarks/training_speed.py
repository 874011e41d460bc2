"""Training throughput of ``cak train fit``: spectrogram cells/s and seconds per epoch of a 200 x 15 s corpus.

One epoch of the published recipe is 400 pairs (200 identity + 200 texture pairs) in batches of 16,
each batch 5 critic steps (with gradient penalty) and one generator step. A crop run sees one crop
per pair, so its epoch costs 25 batches of crops; the full-spectrogram run (1025 x 1292 cells per
pair) is timed on a smaller batch and scaled linearly. Writes ``benchmarks/results/training_speed.png``.

    python benchmarks/training_speed.py [--threads 1 2] [--crops 32x32 64x64] [--full] [--repeats 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train.fit import FitConfig, Trainer, default_device  # noqa: E402

CORPUS_PAIRS = 400
BATCH = 16
FULL_SHAPE = (1025, 1 + 15 * 44100 // 512)
TARGET_100_EPOCHS_S = 600.0
RESULTS = Path(__file__).resolve().parent / "results"


def time_batch(crop: tuple[int, int], batch: int, device: torch.device, repeats: int) -> float:
    """Median seconds of one training batch (5 critic + 1 generator step) on random spectrogram crops."""
    trainer = Trainer(FitConfig(crop=crop, batch_size=batch), device)
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.rand(batch, 1, *crop, generator=gen).to(device) for _ in range(2))
    c, mixes = torch.rand(batch, generator=gen).to(device), torch.rand(5, batch, generator=gen).to(device)
    trainer.step(x, y, c, mixes)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        trainer.step(x, y, c, mixes)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts (default 1 2)")
    parser.add_argument("--crops", nargs="+", default=["32x32", "64x32", "64x64", "128x128"], help="BINSxFRAMES")
    parser.add_argument("--full", action="store_true", help="also time full spectrograms (slow on a CPU)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    crops = [tuple(int(v) for v in s.split("x")) for s in args.crops]
    shapes = [(crop, BATCH) for crop in crops] + ([(FULL_SHAPE, 1)] if args.full else [])
    setups = [(f"cpu x{n}", torch.device("cpu"), n) for n in args.threads]
    if default_device().type == "cuda":
        setups.append((torch.cuda.get_device_name(0), torch.device("cuda"), None))
    rows = []
    print(f"{'device':<24} {'input':>10} {'s/batch':>9} {'cells/s':>12} {'s/epoch':>9} {'100 epochs':>11}  (200 x 15 s corpus)")
    for label, device, threads in setups:
        if threads:
            torch.set_num_threads(threads)
        for shape, batch in shapes:
            seconds = time_batch(shape, batch, device, args.repeats) * BATCH / batch
            cells = BATCH * shape[0] * shape[1] / seconds
            epoch = seconds * CORPUS_PAIRS / BATCH
            name = "full" if shape == FULL_SHAPE else f"{shape[0]}x{shape[1]}"
            rows.append((label, name, epoch))
            flag = "" if 100 * epoch <= TARGET_100_EPOCHS_S else "  (over the 10 min target)"
            print(f"{label:<24} {name:>10} {seconds:9.3f} {cells:12.3g} {epoch:9.1f} {100 * epoch / 60:9.1f} min{flag}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.4 * len(rows) + 1.5), constrained_layout=True)
    ax.barh([f"{d}  {n}" for d, n, _ in rows], [100 * e / 60 for _, _, e in rows])
    ax.axvline(TARGET_100_EPOCHS_S / 60, color="k", ls="--", label="10 min target")
    ax.set_xscale("log")
    ax.set_xlabel("minutes for 100 epochs of a 200 x 15 s corpus")
    ax.invert_yaxis()
    ax.legend()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "training_speed.png", dpi=110)
    print(f"wrote {RESULTS / 'training_speed.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
