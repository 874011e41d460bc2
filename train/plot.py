"""Training curves (the paper's figure 2 panels) from a checkpoint's history."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cak_dsp.atomic import atomic_path  # noqa: E402

PANELS = (
    ("loss", (("g_loss", "generator"), ("c_loss", "critic"))),
    ("Wasserstein distance", (("wasserstein_d", None),)),
    ("audit violation", (("violations", None),)),
    ("gate temperature T", (("temperature", None),)),
    ("scale s", (("scale", None),)),
)


def plot_history(history: dict[str, list[float]], out: str | os.PathLike[str], title: str = "") -> Path:
    """Write a PNG of generator/critic loss, Wasserstein distance, violation, temperature and scale per epoch."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS), 3.2), constrained_layout=True)
    for ax, (panel_title, series) in zip(axes, PANELS):
        for key, label in series:
            values = [float(v) for v in history.get(key, [])]
            ax.plot(range(1, len(values) + 1), values, label=label)
        ax.set_title(panel_title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if len(series) > 1:
            ax.legend()
    if title:
        fig.suptitle(title)
    out = Path(out)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return out
