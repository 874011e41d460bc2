"""Low-latency paths benchmark: live-stream CPU and fidelity to the standard render.

Two low-latency paths are measured beside the standard geometry: the low-latency geometry
(asymmetric windows, 64-sample frames; ``--geometry low-latency``) and the filter-bank
equalizer (``cak_dsp.fbe``: the standard frames' gains as a low-delay filter, issue 13). In one
process:

* a live-style stream (stereo, 64-sample blocks, at 44.1 and 48 kHz) through each: the time of
  every ``process`` call, as the median and 99th percentile in microseconds and in percent of
  the block's duration, and the whole stream's share of one core (cases run round-robin, so
  machine noise hits them alike);
* sustained tones (five equal tones from 220 Hz to 5 kHz, c = 1, every shipped preset, level
  off, no soft clip): each tone's level against the standard render's and the strongest other
  component, in dB below the tones;
* fidelity (untimed) against the standard offline render (all three in the default: level
  match, soft clip), for every shipped preset (and the published checkpoint if found) on drums
  (hydrogen-drumkits hits and a sequenced groove), a generated sustained pad, fluidsynth music
  and speech (alsa-utils voice prompts, espeak-ng): log-spectral distance
  (``tests/published_gui.py``; floors 100 and 60 dB below the loudest bin) and the SER of the
  wet-minus-dry differences.

Prints the tables and writes ``low_latency.png`` and ``low_latency.json`` to the results folder.
Run ``python benchmarks/low_latency.py --help``.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine_speed import DEFAULT_OUT, DEFAULT_REFERENCE, print_table  # noqa: E402

from cak_dsp import CakEngine, Preset, render  # noqa: E402
from cak_dsp.fbe import EqualizerStage, FilterBankEqualizer  # noqa: E402
from cak_dsp.presets import resolve_preset, shipped_presets  # noqa: E402

SR = 44100
RATES = (44100, 48000)
PATHS = ("standard", "low-latency", "equalizer")
LOW_LATENCY_PATHS = PATHS[1:]
TONES = (220.0, 554.0, 1210.0, 2637.0, 4999.0)
TONE_LEVEL = 0.01
BLOCK = 64
CHANNELS = 2
TARGET_SHARE = 0.10
LSD_FLOOR_DB = -60.0
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
SPEECH = Path("/usr/share/sounds/alsa")
SPEECH_FILES = ("Front_Center.wav", "Front_Left.wav", "Rear_Right.wav", "Side_Left.wav")


# -- material -------------------------------------------------------------------------------
def drums() -> np.ndarray | None:
    """Twelve half-second hits spread over the installed Hydrogen kits (as tests/conftest.py)."""
    import soundfile as sf

    files = sorted(DRUMKITS.glob("*/*.flac"))
    pieces = []
    for path in files[::max(1, len(files) // 12)][:12]:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        if rate == SR:
            pieces.append(audio.mean(axis=1)[: SR // 2])
    if not pieces:
        return None
    clip = np.concatenate(pieces)
    return (clip / np.abs(clip).max()).astype(np.float32)


def pad(seconds: float = 4.0) -> np.ndarray:
    """A sustained five-note chord of harmonic tones with slow vibrato, 0.3 s fades, peak 0.9."""
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    for i, f0 in enumerate((110.0, 138.6, 164.8, 220.0, 277.2)):
        for h in range(1, 8):
            out += np.sin(2 * np.pi * f0 * h * t * (1 + 0.003 * np.sin(2 * np.pi * 0.3 * t + i))) / h**1.5
    out *= np.minimum(1.0, t / 0.3) * np.minimum(1.0, (t[-1] - t) / 0.3)
    return (0.9 * out / np.abs(out).max()).astype(np.float32)


def speech() -> np.ndarray | None:
    """alsa-utils' spoken channel names (48 kHz), resampled to 44.1 kHz and joined, peak 1."""
    import soundfile as sf
    from scipy.signal import resample_poly

    paths = [SPEECH / name for name in SPEECH_FILES]
    if not all(p.is_file() for p in paths):
        return None
    parts = []
    for path in paths:
        audio, rate = sf.read(str(path), dtype="float64", always_2d=True)
        parts.append(resample_poly(audio.mean(axis=1), SR, rate))
    clip = np.concatenate(parts)
    return (clip / np.abs(clip).max()).astype(np.float32)


def materials() -> dict[str, np.ndarray]:
    """Drums, a sustained pad and speech at 44.1 kHz (those whose sources are installed)."""
    found = {"drums": drums(), "pad": pad(), "speech": speech()}
    return {name: audio for name, audio in found.items() if audio is not None}


def more_materials(seconds: float = 10.0) -> dict[str, np.ndarray]:
    """The fidelity tests' real material (``tests/materials.py``): a sequenced drum groove,
    fluidsynth music and espeak-ng speech (those whose packages are installed)."""
    from tests import materials as test_materials

    found = {}
    for name, make in (("groove", test_materials.drums), ("music", test_materials.music),
                       ("speech-tts", test_materials.speech)):
        try:
            found[name] = make(seconds)
        except test_materials.MaterialMissing:
            pass
    return found


def presets(reference: Path = DEFAULT_REFERENCE) -> dict[str, Preset]:
    """The shipped presets, and the published checkpoint when it and torch are available."""
    result = {name: resolve_preset(name) for name in shipped_presets()}
    files = [reference / "final_wgan_grain.pt", reference / "global_normalization_stats.json"]
    if all(f.is_file() for f in files):
        try:
            from cak_train.import_checkpoint import import_checkpoint
        except ImportError:
            return result
        result["published"] = import_checkpoint(*files)
    return result


# -- fidelity -------------------------------------------------------------------------------
def ser_db(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Signal-to-error ratio of ``estimate`` against ``reference`` in dB."""
    return float(10 * np.log10(np.sum(reference.astype(np.float64) ** 2)
                               / max(np.sum((estimate.astype(np.float64) - reference) ** 2), 1e-30)))


def lsd_db(a: np.ndarray, b: np.ndarray, floor_db: float = LSD_FLOOR_DB) -> float:
    """Log-spectral distance in dB: per 2048/512 Hann frame, the RMS over bins of the difference of
    the two power spectra in dB, averaged over frames. Powers are floored ``floor_db`` below the
    loudest bin of either signal, so inaudible bins do not dominate."""
    from scipy.signal import stft

    pa, pb = (np.abs(stft(x, nperseg=2048, noverlap=1536)[2]) ** 2 for x in (a, b))
    floor = max(pa.max(), pb.max()) * 10 ** (floor_db / 10)
    da, db = (10 * np.log10(np.maximum(p, floor)) for p in (pa, pb))
    return float(np.mean(np.sqrt(np.mean((da - db) ** 2, axis=0))))


def fidelity(audio: np.ndarray, preset: Preset, texture: float, geometry: str = "low-latency") -> dict[str, float]:
    """How ``geometry`` renders compared with the standard geometry's offline render.

    ``effect_db``: energy of the standard wet-minus-dry difference relative to the dry signal;
    ``ser_db``: that difference against the geometry's own wet-minus-dry difference; ``lsd_*``:
    log-spectral distances between geometry output and standard output, dry and standard output,
    dry and geometry output.
    """
    standard = render(audio, SR, preset, texture)
    other = render(audio, SR, preset, texture, geometry=geometry)
    diff = standard - audio
    return {"effect_db": float(10 * np.log10(np.sum(diff.astype(np.float64) ** 2) / np.sum(audio.astype(np.float64) ** 2))),
            "ser_db": ser_db(other - audio, diff), "lsd_db": lsd_db(other, standard),
            "lsd_dry_standard_db": lsd_db(audio, standard), "lsd_dry_geometry_db": lsd_db(audio, other)}


def comparison(audio: np.ndarray, preset: Preset, texture: float) -> dict[str, dict[str, float]]:
    """Both low-latency paths against the standard offline render (all in the default: level
    match, soft clip): log-spectral distances at floors 100 and 60 dB below the loudest bin
    (``tests/published_gui.py``) and the SER of the wet-minus-dry differences."""
    from tests.published_gui import log_spectral_distance

    standard = render(audio, SR, preset, texture)
    outputs = {"low-latency": render(audio, SR, preset, texture, geometry="low-latency"),
               "equalizer": EqualizerStage(preset, texture)(audio, SR)}
    return {name: {"lsd100_db": log_spectral_distance(out, standard), "lsd60_db": log_spectral_distance(out, standard, -60.0),
                   "ser_db": ser_db(out - audio, standard - audio)}
            for name, out in outputs.items()}


def tone_levels(y: np.ndarray, freqs, rate: int, guard_hz: float = 5.0) -> tuple[np.ndarray, float]:
    """Power of each tone (within ``guard_hz``) and of the strongest other component (summed over
    a band as wide) in dB, from a Blackman-Harris-windowed 2**16-point spectrum of the middle."""
    from scipy.signal.windows import blackmanharris

    n = 1 << 16
    start = len(y) // 2 - n // 2
    window = blackmanharris(n)
    power = np.abs(np.fft.rfft(np.asarray(y, np.float64)[start:start + n] * window)) ** 2
    f = np.fft.rfftfreq(n, 1 / rate)
    other = f > 20
    levels = []
    for tone in freqs:
        near = np.abs(f - tone) <= guard_hz
        levels.append(10 * np.log10(power[near].sum()))
        other &= ~near
    width = int(2 * guard_hz * n / rate) + 1
    rest = np.convolve(power * other, np.ones(width), "same").max()
    return np.array(levels), float(10 * np.log10(rest + 1e-300))


def tone_signal(rate: int, seconds: float = 3.0) -> np.ndarray:
    """Five equal sustained tones (TONES) at TONE_LEVEL each, below the published spectral ceiling."""
    t = np.arange(int(seconds * rate)) / rate
    return sum(TONE_LEVEL * np.sin(2 * np.pi * f * t + i) for i, f in enumerate(TONES)).astype(np.float32)


def tones(preset: Preset, rate: int, texture: float = 1.0) -> dict[str, dict[str, float]]:
    """Sustained tones through each path (level off, no soft clip): the largest tone-level
    difference from the standard render and the strongest other component below the weakest tone."""
    x = tone_signal(rate)
    outputs = {"standard": render(x, rate, preset, texture, level="off", soft_clip=False),
               "low-latency": render(x, rate, preset, texture, level="off", soft_clip=False, geometry="low-latency"),
               "equalizer": EqualizerStage(preset, texture, level="off", soft_clip=False)(x, rate)}
    reference, _ = tone_levels(outputs["standard"], TONES, rate)
    result = {}
    for name, out in outputs.items():
        levels, rest = tone_levels(out, TONES, rate)
        result[name] = {"tone_error_db": float(np.abs(levels - reference).max()), "others_dbc": float(rest - levels.min())}
    return result


# -- speed ----------------------------------------------------------------------------------
def make_engine(preset: Preset, path: str):
    """A CAK engine for ``path``: ``standard``, ``low-latency`` (the geometry) or ``equalizer``."""
    if path == "equalizer":
        return FilterBankEqualizer(preset)
    return CakEngine(preset, geometry=path)


def stream_case(preset: Preset, path: str, rate: int, seconds: float, texture: float):
    """A prepared stereo engine and the 64-sample blocks of ``seconds`` of noisy tones at ``rate``."""
    rng = np.random.default_rng(0)
    n = int(seconds * rate) // BLOCK * BLOCK
    t = np.arange(n) / rate
    audio = np.stack([0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(n) for _ in range(CHANNELS)])
    blocks = [np.ascontiguousarray(audio[:, i:i + BLOCK], dtype=np.float32) for i in range(0, n, BLOCK)]
    engine = make_engine(preset, path)
    engine.prepare(rate, BLOCK, CHANNELS)
    engine.texture = texture
    for block in blocks[: rate // BLOCK]:  # fill the analysis window and warm caches
        engine.process(block)
    return engine, blocks


def time_streams(preset: Preset, seconds: float, repeats: int, texture: float) -> dict[str, dict]:
    """Per-block call times of every (rate, path) case, run round-robin, ``repeats`` times."""
    cases = {(rate, path): stream_case(preset, path, rate, seconds, texture) for rate in RATES for path in PATHS}
    times = {key: np.empty((repeats, len(blocks))) for key, (_, blocks) in cases.items()}
    clock = time.perf_counter_ns
    for r in range(repeats):
        for key, (engine, blocks) in cases.items():
            out = np.empty((CHANNELS, BLOCK), np.float32)
            row = times[key][r]
            for i, block in enumerate(blocks):
                t0 = clock()
                engine.process(block, out=out)
                row[i] = clock() - t0
    result = {}
    for (rate, path), t in times.items():
        seconds_per_repeat = t.sum(axis=1) * 1e-9
        audio_s = t.shape[1] * BLOCK / rate
        period_us = BLOCK / rate * 1e6
        quiet = int(np.argmin(seconds_per_repeat))
        engine = cases[(rate, path)][0]
        result[f"{rate} {path}"] = {
            "rate": rate, "path": path, "latency_samples": engine.latency_samples,
            "share_best": float(seconds_per_repeat.min() / audio_s),
            "share_median": float(np.median(seconds_per_repeat) / audio_s),
            "block_us_median": float(np.median(t[quiet]) * 1e-3), "block_us_p99": float(np.percentile(t[quiet], 99) * 1e-3),
            "block_share_median": float(np.median(t[quiet]) * 1e-3 / period_us),
            "block_share_p99": float(np.percentile(t[quiet], 99) * 1e-3 / period_us),
            "block_us": t.ravel() * 1e-3,
        }
    return result


# -- output ---------------------------------------------------------------------------------
def plot(speed: dict[str, dict], fid: dict[str, dict[str, dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 4.8))
    names = list(speed)
    colors = {"standard": "C0", "low-latency": "C1", "equalizer": "C2"}
    shares = [100 * speed[n]["share_best"] for n in names]
    ax1.barh(names, shares, color=[colors[speed[n]["path"]] for n in names])
    ax1.axvline(100 * TARGET_SHARE, color="k", ls="--", label=f"target {100 * TARGET_SHARE:g} %")
    for i, (v, n) in enumerate(zip(shares, names)):
        ax1.text(v, i, f" {v:.2f} % ({speed[n]['latency_samples']} samples)", va="center", fontsize=8)
    ax1.set(xlabel="% of one core (best repeat)", xlim=(0, 100 * TARGET_SHARE * 1.6),
            title=f"Live stream: stereo, {BLOCK}-sample blocks")
    ax1.legend(fontsize=8)
    bins = np.geomspace(0.5, max(np.percentile(s["block_us"], 99.9) for s in speed.values()), 80)
    for n in names:
        ax2.hist(speed[n]["block_us"], bins=bins, histtype="step", label=n, color=colors[speed[n]["path"]],
                 ls="-" if speed[n]["rate"] == RATES[0] else ":")
    ax2.set(xscale="log", xlabel=f"us per process() call ({BLOCK} samples, stereo)", ylabel="calls",
            title="Cost of one block")
    ax2.legend(fontsize=7)
    labels = [f"{p} / {m}" for p, rows in fid.items() for m in rows]
    y = np.arange(len(labels))
    for offset, name in ((-0.2, "low-latency"), (0.2, "equalizer")):
        values = [rows[m][name]["lsd100_db"] for rows in fid.values() for m in rows]
        ax3.barh(y + offset, values, height=0.4, label=name, color=colors[name])
    ax3.set_yticks(y, labels, fontsize=7)
    ax3.set(title="Log-spectral distance to the standard render (floor -100 dB)", xlabel="dB")
    ax3.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="stream length per timed repeat (default 10)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of each stream (default 5)")
    parser.add_argument("--texture", type=float, default=1.0, help="texture amount (default 1.0)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help=f"folder with the published checkpoint and stats (default {DEFAULT_REFERENCE})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 s streams, one repeat, tones and fidelity for one preset")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 2.0, 1

    all_presets = presets(args.reference)
    speed_preset = all_presets.get("published") or next(iter(all_presets.values()))
    if args.quick:
        all_presets = {speed_preset.name: speed_preset}
    print(f"{platform.machine()}, Python {platform.python_version()}; stream: {CHANNELS} channels, {BLOCK}-sample "
          f"blocks, {args.seconds:g} s x {args.repeats} repeat(s), preset '{speed_preset.name}', texture {args.texture:g}")
    speed = time_streams(speed_preset, args.seconds, args.repeats, args.texture)
    rows = []
    for name, s in speed.items():
        base = speed[f"{s['rate']} standard"]
        rows.append([name, f"{s['latency_samples']}", f"{1000 * s['latency_samples'] / s['rate']:.2f}",
                     f"{s['block_us_median']:.1f}", f"{100 * s['block_share_median']:.1f}", f"{s['block_us_p99']:.1f}",
                     f"{100 * s['block_share_p99']:.1f}", f"{100 * s['share_best']:.2f}", f"{100 * s['share_median']:.2f}",
                     f"{s['share_best'] / base['share_best']:.2f}"])
    print_table(f"Live stream, one core (target < {100 * TARGET_SHARE:g} % for a low-latency path); a callback's time "
                f"in us and in % of its {BLOCK}-sample block (median and p99 of the quietest repeat)",
                ["rate, path", "latency", "ms", "median us", "%", "p99 us", "%", "% core best", "% core median",
                 "x standard"], rows)

    tone_rows, tone_table = [], {}
    for rate in RATES:
        for name, preset in all_presets.items():
            result = tones(preset, rate, args.texture)
            tone_table[f"{rate} {name}"] = result
            tone_rows.append([f"{rate} {name}", *(f"{result[p][k]:.2f}" if k == "tone_error_db" else f"{result[p][k]:.1f}"
                                                  for p in LOW_LATENCY_PATHS for k in ("tone_error_db", "others_dbc")),
                              f"{result['standard']['others_dbc']:.1f}"])
    print_table(f"Sustained tones at c = {args.texture:g} ({len(TONES)} equal tones, {TONES[0]:g} Hz-{TONES[-1]:g} Hz; "
                "target: each within 0.3 dB of the standard render, everything else <= -60 dB)",
                ["rate preset", "low-lat. tone dB", "others dB", "equalizer tone dB", "others dB", "standard others dB"],
                tone_rows)

    found = {**materials(), **more_materials()}
    fid = {name: {m: comparison(audio, p, args.texture) for m, audio in found.items()} for name, p in all_presets.items()}
    print_table(f"Against the standard offline render at c = {args.texture:g} (44.1 kHz, level match and soft clip; "
                "LSD at floors -100 and -60 dB, lower is closer; SER of wet-minus-dry, higher is closer)",
                ["preset / material", "LSD100 low-lat.", "equalizer", "ratio", "LSD60 low-lat.", "equalizer", "ratio",
                 "SER low-lat.", "equalizer"],
                [[f"{name} / {m}", f"{r['low-latency']['lsd100_db']:.2f}", f"{r['equalizer']['lsd100_db']:.2f}",
                  f"{r['equalizer']['lsd100_db'] / r['low-latency']['lsd100_db']:.2f}",
                  f"{r['low-latency']['lsd60_db']:.2f}", f"{r['equalizer']['lsd60_db']:.2f}",
                  f"{r['equalizer']['lsd60_db'] / r['low-latency']['lsd60_db']:.2f}",
                  f"{r['low-latency']['ser_db']:.2f}", f"{r['equalizer']['ser_db']:.2f}"]
                 for name, rows_ in fid.items() for m, r in rows_.items()])

    args.out.mkdir(parents=True, exist_ok=True)
    plot(speed, fid, args.out / "low_latency.png")
    summary = {"block": BLOCK, "channels": CHANNELS, "seconds": args.seconds, "repeats": args.repeats,
               "texture": args.texture,
               "stream": {k: {kk: vv for kk, vv in v.items() if kk != "block_us"} for k, v in speed.items()},
               "tones": tone_table, "fidelity": fid}
    (args.out / "low_latency.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out / 'low_latency.png'} and {args.out / 'low_latency.json'}")


if __name__ == "__main__":
    main()
