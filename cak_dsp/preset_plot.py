"""Pictures of a preset: the kernel's time-frequency structure and what it does to a signal."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .demo import DEMO_RATE, demo_clip, power_frames
from .preset import Preset
from .render import render

BAND_EDGES = 62.5 * 2 ** (np.arange(25) / 3)


def band_levels(audio: np.ndarray, sample_rate: int, n_fft: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Long-term power per third-octave band (centres in Hz, power): mean over Hann frames."""
    power = power_frames(audio, n_fft, n_fft // 2).mean(axis=0)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = BAND_EDGES[BAND_EDGES < sample_rate / 2]
    centres = np.sqrt(edges[:-1] * edges[1:])
    bands = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    return centres, bands


def band_change_db(preset: Preset, audio: np.ndarray, sample_rate: int, texture: float,
                   level: str = "match") -> tuple[np.ndarray, np.ndarray]:
    """Per third-octave band level change (dB) of ``audio`` (mono) rendered at ``texture``
    in the default mode with ``level`` (soft clip off, to show the kernel alone)."""
    wet = render(audio, sample_rate, preset, texture, level=level, soft_clip=False)
    centres, dry_bands = band_levels(audio, sample_rate)
    _, wet_bands = band_levels(wet, sample_rate)
    tiny = 1e-20
    return centres, 10 * np.log10((wet_bands + tiny) / (dry_bands + tiny))


def plot_preset(preset: Preset, path: Path, textures: tuple[float, ...] = (0.5, 1.0, 1.5)) -> None:
    """Write a PNG: the 3x3 kernel as a heat map, the gain curve, and the average band change."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 7.5), constrained_layout=True)
    grid = fig.add_gridspec(2, 2, width_ratios=(1, 1.6))
    ax = fig.add_subplot(grid[0, 0])
    limit = float(np.abs(preset.weight).max()) or 1.0
    image = ax.imshow(preset.weight, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for (row, col), value in np.ndenumerate(preset.weight):
        ax.text(col, row, f"{value:+.3f}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(3), ["t-1 (past)", "t", "t+1 (future)"])
    ax.set_yticks(range(3), ["f-1 bin", "f", "f+1 bin"])
    ax.set_title(f"kernel (bias {preset.bias:+.3f}, scale {preset.scale:.3f})")
    fig.colorbar(image, ax=ax, shrink=0.8)

    ax = fig.add_subplot(grid[1, 0])
    c = np.linspace(0.0, 2.0, 401)
    ax.plot(c, [preset.gain(v) for v in c], color="black")
    ax.axvline(preset.threshold, color="grey", linestyle=":", label=f"threshold {preset.threshold:.2f}")
    ax.set_xlabel("texture c")
    ax.set_ylabel("c * gate(c) * s")
    ax.set_title("residual gain")
    ax.legend()

    clip = demo_clip(6.0)[0]
    for row, level in enumerate(("match", "off")):
        ax = fig.add_subplot(grid[row, 1])
        for texture in textures:
            centres, change = band_change_db(preset, clip, DEMO_RATE, texture, level)
            ax.semilogx(centres, change, marker="o", markersize=3, label=f"c = {texture}")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xlabel("third-octave band (Hz)")
        ax.set_ylabel("wet / dry (dB)")
        what = "whole-file level match" if level == "match" else "raw published level"
        ax.set_title(f"demo groove, level {level}: {what}")
        ax.legend()
    fig.suptitle(f"CAK preset '{preset.name}'")
    fig.savefig(path, dpi=110)
    plt.close(fig)
