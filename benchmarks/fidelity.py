"""Fidelity of cak's sound against an independent restatement of the published GUI path.

For each preset x material x texture x level mode: the log-spectral distance (dB) of
``render`` (default mode ``gain``, soft clip on) from the published GUI's output (librosa STFT,
torch conv2d, 15 s chunks, whole-file RMS match, tanh; ``tests/published_gui.py``), the
correlation of their frame-to-frame loudness changes, and the level change against the dry
input. The dry input's own distance is printed for scale. Material: real drums, a fluidsynth
render and speech at -23 dBFS RMS (``tests/materials.py``), plus the same at +10 dB ("hot"),
where the soft clip works hard. Prints a table and writes ``fidelity.png`` and
``fidelity.json`` to the results folder. Needs the test extras (librosa, torch).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engine_speed import print_table  # noqa: E402
from cak_dsp import render  # noqa: E402
from cak_dsp.level import LEVEL_MODES  # noqa: E402
from cak_dsp.presets import resolve_preset  # noqa: E402
from tests import materials  # noqa: E402
from tests.published_gui import (RATE, level_change_db, log_spectral_distance,  # noqa: E402
                                 loudness_change_correlation, published_gui)

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
TEXTURES = (0.5, 0.8, 1.5)
HOT_DB = 10.0


def measure(presets: list[str], seconds: float) -> list[dict]:
    rows = []
    found = {}
    for name, make in materials.MATERIALS.items():
        try:
            audio = make(seconds)
        except materials.MaterialMissing as exc:
            print(f"skipping {name}: {exc}")
            continue
        found[name] = audio
        found[f"{name} (hot)"] = audio * np.float32(10 ** (HOT_DB / 20))
    for preset_name in presets:
        preset = resolve_preset(preset_name)
        for name, audio in found.items():
            for c in TEXTURES:
                expected = published_gui(audio, preset, c)
                dry = log_spectral_distance(audio, expected)
                for level in LEVEL_MODES:
                    wet = render(audio, RATE, preset, c, level=level)
                    rows.append({"preset": preset_name, "material": name, "c": c, "level": level,
                                 "distance_db": log_spectral_distance(wet, expected),
                                 "correlation": loudness_change_correlation(wet, expected),
                                 "level_db": level_change_db(wet, audio), "dry_distance_db": dry})
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(LEVEL_MODES), figsize=(15, 4.5), sharey=True, constrained_layout=True)
    for ax, level in zip(axes, LEVEL_MODES):
        picked = [r for r in rows if r["level"] == level]
        labels = [f"{r['preset']}\n{r['material']}" for r in picked if r["c"] == TEXTURES[0]]
        x = np.arange(len(labels))
        for i, c in enumerate(TEXTURES):
            values = [r["distance_db"] for r in picked if r["c"] == c]
            ax.bar(x + (i - 1) * 0.27, values, 0.27, label=f"c = {c}")
        ax.set_xticks(x, labels, rotation=60, fontsize=7)
        ax.set_title(f"level {level}")
        ax.axhline(0.25, color="k", ls="--", lw=0.8)
    axes[0].set_ylabel("log-spectral distance to the published GUI output (dB)")
    axes[0].legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["published"], help="presets to measure (default: published)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each material (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    rows = measure(args.presets, args.seconds)
    print_table("Distance to the published GUI output (dB), loudness-change correlation, level change (dB)",
                ["preset / material", "c", "level", "distance", "correlation", "level", "dry's distance"],
                [[f"{r['preset']} / {r['material']}", f"{r['c']:g}", r["level"], f"{r['distance_db']:.3f}",
                  f"{r['correlation']:.4f}", f"{r['level_db']:+.2f}", f"{r['dry_distance_db']:.2f}"] for r in rows])
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "fidelity.png")
    (args.out / "fidelity.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwrote {args.out / 'fidelity.png'} and {args.out / 'fidelity.json'}")


if __name__ == "__main__":
    main()
