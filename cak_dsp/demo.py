"""The demo: a generated clip (drums and a pad) rendered dry and wet, with a spectrogram."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .level import DEFAULT_LEVEL
from .normalization import DEFAULT_MODE
from .preset import Preset
from .render import render

DEMO_RATE = 44100


def demo_clip(seconds: float = 6.0, sample_rate: int = DEMO_RATE, seed: int = 7) -> np.ndarray:
    """A stereo (2, n) float32 groove: kick, snare, hats and a sustained minor-seventh pad."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    beat = 60.0 / 110.0

    def hit(start: float, sound: np.ndarray) -> None:
        i = int(start * sample_rate)
        j = min(n, i + sound.size)
        out[i:j] += sound[: j - i]

    tk = np.arange(int(0.35 * sample_rate)) / sample_rate
    kick = np.sin(2 * np.pi * (45 * tk + 90 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 9)
    ts = np.arange(int(0.25 * sample_rate)) / sample_rate
    snare = (0.6 * rng.standard_normal(ts.size) + 0.4 * np.sin(2 * np.pi * 190 * ts)) * np.exp(-ts * 18)
    th = np.arange(int(0.06 * sample_rate)) / sample_rate
    hat = np.diff(rng.standard_normal(th.size + 1)) * 0.25 * np.exp(-th * 60)
    for k in range(int(seconds / beat * 2)):
        at = k * beat / 2
        hit(at, hat)
        if k % 4 == 0:
            hit(at, kick)
        if k % 4 == 2:
            hit(at, snare)
    pad = sum(np.sign(np.sin(2 * np.pi * f * t + ph)) * 0.04
              for f, ph in ((220.0, 0.0), (261.6, 1.0), (329.6, 2.0), (392.0, 0.5)))
    fade = np.minimum(1.0, np.minimum(t / 0.5, (seconds - t) / 0.5))
    left = 0.5 * out + pad * fade
    right = 0.5 * np.roll(out, int(0.004 * sample_rate)) + pad * fade
    return (np.stack([left, right]) * 0.7).astype(np.float32)


def power_frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Power spectra (frames, bins) of centre-padded Hann frames of a mono signal."""
    padded = np.pad(np.asarray(x, dtype=np.float64), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    return np.abs(np.fft.rfft(frames * np.hanning(n_fft), axis=1)) ** 2


def plot_spectrograms(dry: np.ndarray, wet: np.ndarray, sample_rate: int, path: Path, title: str) -> None:
    """Write a PNG with the dry and wet spectrograms and their difference in dB."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def db_spec(x: np.ndarray) -> np.ndarray:
        return 10 * np.log10(power_frames(x, 2048, 512).T + 1e-12)

    d, w = db_spec(dry.mean(axis=0)), db_spec(wet.mean(axis=0))
    extent = (0, dry.shape[1] / sample_rate, 0, sample_rate / 2000)
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    top = max(d.max(), w.max())
    for ax, spec, label in ((axes[0], d, "dry"), (axes[1], w, "wet")):
        im = ax.imshow(spec, origin="lower", aspect="auto", extent=extent, vmin=top - 90, vmax=top, cmap="magma")
        ax.set_ylabel("kHz")
        ax.set_title(label)
        fig.colorbar(im, ax=ax, label="dB")
    im = axes[2].imshow(w - d, origin="lower", aspect="auto", extent=extent, vmin=-24, vmax=24, cmap="coolwarm")
    axes[2].set_title("wet - dry")
    axes[2].set_ylabel("kHz")
    axes[2].set_xlabel("seconds")
    fig.colorbar(im, ax=axes[2], label="dB")
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(preset: Preset, texture: float, out_dir: Path, mode: str = DEFAULT_MODE, level: str = DEFAULT_LEVEL,
             soft_clip: bool = True) -> dict[str, Path]:
    """Render the demo clip; returns the paths of the dry, wet and spectrogram files."""
    import soundfile as sf

    from .atomic import atomic_path

    out_dir.mkdir(parents=True, exist_ok=True)
    dry = demo_clip()
    wet = render(dry, DEMO_RATE, preset, texture, mode=mode, level=level, soft_clip=soft_clip)
    paths = {"dry": out_dir / "dry.wav", "wet": out_dir / "wet.wav", "spectrogram": out_dir / "spectrogram.png"}
    for key, audio in (("dry", dry), ("wet", wet)):
        try:
            with atomic_path(paths[key]) as tmp:
                sf.write(str(tmp), audio.T, DEMO_RATE, subtype="FLOAT")
        except RuntimeError as exc:  # libsndfile's errors: a full disk, a file size limit
            raise OSError(f"{paths[key]}: cannot write ({str(exc).strip() or type(exc).__name__}: disk full or "
                          "a file size limit?); nothing was replaced") from None
    with atomic_path(paths["spectrogram"]) as tmp:
        plot_spectrograms(dry, wet, DEMO_RATE, tmp, f"CAK '{preset.name}', texture {texture}, {mode} mode, "
                                                    f"level {level}{', soft clip' if soft_clip else ''}")
    return paths
