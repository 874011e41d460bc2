"""What each preset does to the sound in the default render: band levels, flatness, crest, dynamics.

For each preset x material x texture (c = 0.5, 1.0, 1.5), ``render`` in the default (mode
``gain``, ``level="match"``, soft clip on) and at the raw published level (``level="off"``,
soft clip off, so the numbers are the kernel's and not the tanh's) is compared with the dry
input:

* the level change per band (below 200 Hz, 200 Hz-1 kHz, 1-4 kHz, 4-10 kHz, above 10 kHz) and
  overall (dB, output energy over input energy over the whole file);
* the spectral flatness (geometric over arithmetic mean of the power spectrum, 40 Hz-16 kHz,
  mean over the frames within 50 dB of the loudest), dry and wet: lower is more tonal, higher
  noisier;
* the crest factor change (peak over RMS, dB): negative is less transient. A linear gain does
  not change it, so at ``level="off"`` (no soft clip) it is the kernel's own; the difference to
  the default's is the soft clip's share (it grows with the input's peaks: the drums at -23
  dBFS RMS peak above full scale);
* the frame-level range change: the 95th minus the 10th percentile of 23 ms frame levels (dB),
  over the frames where the dry input is within 60 dB of its loudest; negative means the gaps
  and tails are filled in (denser, smeared), positive more contrast.

The share of the dry input's energy in bins above each preset's spectral ceiling (the training
corpus's 99.99th percentile, where the kernel domain clips; gain mode keeps those bins' own
level) is printed for each preset and material, after the dry material's peak, crest factor
and flatness.

Material, all mono 44.1 kHz at -23 dBFS RMS: real drums (hydrogen-drumkits) and speech
(espeak-ng, alsa-utils) from ``tests/materials.py``, and a warm GM pad (program 89, "Warm
Pad", sustained four-note chords) rendered here by fluidsynth with FluidR3 GM. Presets: every
shipped one (the published kernel included). Prints the table and writes ``preset_character.png`` (band
changes per texture, per preset x material and level) and ``preset_character.json`` to the
results folder. Run ``python benchmarks/preset_character.py --help``.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.engine_speed import print_table  # noqa: E402
from cak_dsp import Preset, render  # noqa: E402
from cak_dsp.presets import resolve_preset, shipped_presets  # noqa: E402
from tests import materials  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
RATE = materials.RATE
TEXTURES = (0.5, 1.0, 1.5)
LEVELS = {"match": {"level": "match", "soft_clip": True}, "off": {"level": "off", "soft_clip": False}}
BANDS = ((0.0, 200.0, "<200"), (200.0, 1000.0, "200-1k"), (1000.0, 4000.0, "1k-4k"),
         (4000.0, 10000.0, "4k-10k"), (10000.0, RATE / 2 + 1, ">10k"))
N_FFT, HOP = 4096, 1024
FLATNESS_RANGE = (40.0, 16000.0)
PAD_PROGRAM = 89
# (start s, length s, MIDI notes): Cmaj9 - Am9 - Fmaj7 - G6/9, one chord every 4 s, overlapping
PAD_CHORDS = ((48, 55, 64, 71), (45, 55, 60, 67), (41, 57, 64, 69), (43, 57, 62, 64))


# -- material -------------------------------------------------------------------------------
def pad(seconds: float = 20.0) -> np.ndarray:
    """A warm GM pad (program 89) of sustained four-note chords, fluidsynth + FluidR3 GM, -23 dBFS RMS."""
    from cak_train.material import SOUNDFONT, midi_file

    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise materials.MaterialMissing("fluidsynth and fluid-soundfont-gm not installed "
                                        "(apt-get install fluidsynth fluid-soundfont-gm)")
    import soundfile as sf

    notes = []
    for i in range(int(np.ceil(seconds / 4.0))):
        notes += [(4.0 * i, 4.2, pitch, 80) for pitch in PAD_CHORDS[i % len(PAD_CHORDS)]]
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "pad.mid", Path(tmp) / "pad.wav"
        mid.write_bytes(midi_file(notes, PAD_PROGRAM, 60.0))  # 60 BPM: one beat is one second
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RATE), "-F", str(wav),
                        str(SOUNDFONT), str(mid)], check=True, capture_output=True)
        audio, _ = sf.read(wav, dtype="float64", always_2d=True)
    mono = audio.mean(axis=1)[: int(seconds * RATE)]
    return materials._level(np.pad(mono, (0, max(0, int(seconds * RATE) - mono.size))))


def load_materials(seconds: float) -> dict[str, np.ndarray]:
    found = {}
    for name, make in (("drums", materials.drums), ("pad", pad), ("speech", materials.speech)):
        try:
            found[name] = make(seconds)
        except materials.MaterialMissing as exc:
            print(f"skipping {name}: {exc}")
    return found


def load_presets(names: list[str] | None) -> dict[str, Preset]:
    """The named presets (default: every shipped one, the published kernel included)."""
    return {name: resolve_preset(name) for name in names or shipped_presets()}


# -- measures -------------------------------------------------------------------------------
def _power(x: np.ndarray) -> np.ndarray:
    """Power spectrogram (frames, bins), periodic Hann ``N_FFT`` / ``HOP``."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    return np.abs(np.fft.rfft(frames * window, axis=1)) ** 2


def _db(ratio: float) -> float:
    return float(10 * np.log10(max(ratio, 1e-30)))


def flatness(power: np.ndarray, active: np.ndarray) -> float:
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    p = power[active][:, (freqs >= FLATNESS_RANGE[0]) & (freqs < FLATNESS_RANGE[1])] + 1e-20
    return float(np.mean(np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)))


def frame_levels(x: np.ndarray, size: int = 1024) -> np.ndarray:
    n = x.size // size
    return 10 * np.log10(np.mean(np.square(x[: n * size].astype(np.float64)).reshape(n, size), axis=1) + 1e-20)


def crest_db(x: np.ndarray) -> float:
    x = x.astype(np.float64)
    return float(20 * np.log10(np.max(np.abs(x)) / np.sqrt(np.mean(x * x))))


def measure_pair(dry: np.ndarray, wet: np.ndarray) -> dict:
    """Band and overall level change, flatness, crest and frame-range change of ``wet`` against ``dry``."""
    p_dry, p_wet = _power(dry), _power(wet)
    frame_e = p_dry.sum(axis=1)
    active = frame_e >= frame_e.max() * 1e-5
    freqs = np.fft.rfftfreq(N_FFT, 1 / RATE)
    bands = {}
    for lo, hi, label in BANDS:
        band = (freqs >= lo) & (freqs < hi)
        bands[label] = _db(p_wet[:, band].sum() / p_dry[:, band].sum())
    l_dry, l_wet = frame_levels(dry), frame_levels(wet)
    on = l_dry >= l_dry.max() - 60.0

    def spread(levels: np.ndarray) -> float:
        return float(np.percentile(levels[on], 95) - np.percentile(levels[on], 10))

    energy = float(np.sum(np.square(wet, dtype=np.float64)) / np.sum(np.square(dry, dtype=np.float64)))
    return {"overall_db": _db(energy), "bands_db": bands,
            "flatness_dry": flatness(p_dry, active), "flatness_wet": flatness(p_wet, active),
            "crest_change_db": crest_db(wet) - crest_db(dry), "range_change_db": spread(l_wet) - spread(l_dry)}


def above_ceiling_share(dry: np.ndarray, preset: Preset) -> float:
    """Share of ``dry``'s spectral energy in bins above ``preset``'s ceiling D(1) (its own STFT geometry)."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(preset.n_fft) / preset.n_fft)
    padded = np.pad(dry.astype(np.float64), (preset.n_fft // 2, preset.n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(padded, preset.n_fft)[::preset.hop]
    mags = np.abs(np.fft.rfft(frames * window, axis=1))
    ceiling = ((np.exp(preset.global_high) - 1.0) / preset.alpha) ** 2
    power = mags ** 2
    return float(power[mags > ceiling].sum() / power.sum())


def measure(presets: dict[str, Preset], found: dict[str, np.ndarray]) -> tuple[list[dict], list[dict]]:
    rows, ceilings = [], []
    for preset_name, preset in presets.items():
        for name, audio in found.items():
            ceilings.append({"preset": preset_name, "material": name,
                             "above_ceiling": above_ceiling_share(audio, preset)})
            for level, options in LEVELS.items():
                for c in TEXTURES:
                    wet = render(audio, RATE, preset, c, **options)
                    rows.append({"preset": preset_name, "material": name, "c": c, "level": level,
                                 **measure_pair(audio, wet)})
    return rows, ceilings


# -- output ---------------------------------------------------------------------------------
def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    presets = list(dict.fromkeys(r["preset"] for r in rows))
    columns = [(m, lv) for m in dict.fromkeys(r["material"] for r in rows) for lv in LEVELS]
    fig, axes = plt.subplots(len(presets), len(columns), figsize=(3.2 * len(columns), 2.6 * len(presets)),
                             sharex=True, squeeze=False, constrained_layout=True)
    labels = [b[2] for b in BANDS]
    x = np.arange(len(labels) + 1)
    width = 0.8 / len(TEXTURES)
    for i, preset in enumerate(presets):
        for j, (material, level) in enumerate(columns):
            ax = axes[i, j]
            for k, c in enumerate(TEXTURES):
                key = (preset, material, level, c)
                row = next((r for r in rows if (r["preset"], r["material"], r["level"], r["c"]) == key), None)
                if row is not None:
                    values = [row["bands_db"][b] for b in labels] + [row["overall_db"]]
                    ax.bar(x + (k - (len(TEXTURES) - 1) / 2) * width, values, width, label=f"c = {c:g}")
            ax.axhline(0, color="k", lw=0.6)
            ax.axvline(len(labels) - 0.5, color="0.6", lw=0.6, ls=":")
            ax.set_title(f"{preset} / {material} / level {level}", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_xticks(x, [*labels, "all"], rotation=45)
            if j == 0:
                ax.set_ylabel("change (dB)", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=None,
                        help="presets to measure, names or paths; 'published' imports the checkpoint "
                             "(default: every shipped preset, and published if found)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each material (default 20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    presets = load_presets(args.presets)
    found = load_materials(args.seconds)
    rows, ceilings = measure(presets, found)
    dry = []
    for name, audio in found.items():
        power = _power(audio)
        energy = power.sum(axis=1)
        dry.append([name, f"{20 * np.log10(np.max(np.abs(audio))):+.1f}", f"{crest_db(audio):.1f}",
                    f"{flatness(power, energy >= energy.max() * 1e-5):.3g}"])
    print_table("Dry material (-23 dBFS RMS)", ["material", "peak dBFS", "crest dB", "flatness"], dry)
    print_table("Dry energy above each preset's spectral ceiling (kept, not flattened, in gain mode)",
                ["preset / material", "share of energy"],
                [[f"{r['preset']} / {r['material']}", f"{100 * r['above_ceiling']:.1f} %"] for r in ceilings])
    print_table("Change against the dry input: level match = the default (soft clip on); level off = raw "
                "published level, no soft clip. Bands and 'all' in dB; flatness dry -> wet; crest and "
                "frame-level range changes in dB",
                ["preset / material", "c", "level", "all", *(b[2] for b in BANDS), "flatness", "crest", "range"],
                [[f"{r['preset']} / {r['material']}", f"{r['c']:g}", r["level"], f"{r['overall_db']:+.1f}",
                  *(f"{r['bands_db'][b[2]]:+.1f}" for b in BANDS),
                  f"{r['flatness_dry']:.3g} -> {r['flatness_wet']:.3g}", f"{r['crest_change_db']:+.1f}",
                  f"{r['range_change_db']:+.1f}"] for r in rows])
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "preset_character.png")
    result = {"rows": rows, "above_ceiling": ceilings}
    (args.out / "preset_character.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out / 'preset_character.png'} and {args.out / 'preset_character.json'}")


if __name__ == "__main__":
    main()
