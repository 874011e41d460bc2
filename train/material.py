"""Training material: drum grooves sequenced from real drum-kit samples, and fluidsynth renders of generated MIDI.

``python -m cak_train.material drums OUT_DIR`` / ``python -m cak_train.material melodic OUT_DIR`` write WAV files
(44.1 kHz mono) whose density varies from sparse to busy, so measured labels spread over 0.1..1.0.
"""
from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 44100
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
DRUM_ROLES = {
    "kick": re.compile(r"kick|\bbd|bass ?drum|bassdrum", re.I),
    "snare": re.compile(r"snare|\bsd|snr|clap|rim|stick", re.I),
    "hat": re.compile(r"hat|\bhh|shaker|tamb", re.I),
}
MELODIC_PROGRAMS = (0, 1, 4, 6, 11, 16, 19, 24, 25, 26, 32, 40, 42, 48, 50, 52, 56, 60, 65, 68, 71, 73, 80, 81, 88, 89, 90, 94)
SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9))


def _read_mono(path: Path) -> np.ndarray:
    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    if sr != SAMPLE_RATE:
        ratio = Fraction(SAMPLE_RATE, sr).limit_denominator(1000)
        audio = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    return audio


def drum_kits(root: Path = DRUMKITS) -> dict[str, dict[str, list[Path]]]:
    """Kits with kick, snare and hat samples: kit name -> role (kick/snare/hat/other) -> sample files."""
    kits = {}
    for kit in sorted(p for p in root.iterdir() if p.is_dir()):
        roles: dict[str, list[Path]] = {"kick": [], "snare": [], "hat": [], "other": []}
        for f in sorted(kit.rglob("*")):
            if f.suffix.lower() in {".wav", ".flac", ".aif", ".aiff"}:
                role = next((r for r, pattern in DRUM_ROLES.items() if pattern.search(f.stem)), "other")
                roles[role].append(f)
        if roles["kick"] and roles["snare"] and roles["hat"]:
            kits[kit.name] = roles
    return kits


def drum_groove(roles: dict[str, list[Path]], seconds: float, density: float, rng: np.random.Generator) -> np.ndarray:
    """A 16th-note groove at a random tempo; ``density`` (0..1) sets how many hits beyond the backbone."""
    bpm = rng.uniform(70, 160)
    step = 60.0 / bpm / 4
    chosen = {role: _read_mono(rng.choice(files)) for role, files in roles.items() if files}
    out = np.zeros(int(seconds * SAMPLE_RATE) + SAMPLE_RATE, dtype=np.float32)
    for n in range(int(seconds / step)):
        pos = n % 16
        hits = []
        if pos in (0, 8) or rng.random() < 0.25 * density:
            hits.append("kick")
        if pos in (4, 12) or rng.random() < 0.15 * density:
            hits.append("snare")
        if (pos % 2 == 0 and rng.random() < 0.3 + 0.7 * density) or rng.random() < density**2:
            hits.append("hat")
        if "other" in chosen and rng.random() < 0.1 * density:
            hits.append("other")
        start = int(n * step * SAMPLE_RATE)
        for role in hits:
            sample = chosen[role][: out.size - start] * rng.uniform(0.4, 1.0)
            out[start : start + sample.size] += sample
    out = out[: int(seconds * SAMPLE_RATE)]
    return (out / max(np.abs(out).max(), 1e-9) * 0.9).astype(np.float32)


def make_drums(out_dir: Path, count: int, seconds: float, seed: int) -> None:
    """Write ``count`` grooves cycling through the installed hydrogen kits."""
    kits = drum_kits()
    if not kits:
        raise SystemExit(f"no usable drum kits under {DRUMKITS} (apt install hydrogen-drumkits)")
    rng = np.random.default_rng(seed)
    names = sorted(kits)
    out_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        kit = names[i % len(names)]
        density = (i + 0.5) / count
        slug = re.sub(r"\W+", "_", kit).strip("_")
        sf.write(out_dir / f"groove_{i:03d}_{slug}.wav", drum_groove(kits[kit], seconds, density, rng), SAMPLE_RATE)


def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value > 0x7F:
        value >>= 7
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def midi_file(notes: list[tuple[float, float, int, int]], program: int, bpm: float) -> bytes:
    """A format-0 SMF: ``notes`` are (start beat, length beats, pitch, velocity) on channel 0."""
    ticks = 480
    events = [(0, bytes([0xFF, 0x51, 0x03]) + int(60e6 / bpm).to_bytes(3, "big")), (0, bytes([0xC0, program]))]
    for start, length, pitch, velocity in notes:
        events.append((int(start * ticks), bytes([0x90, pitch, velocity])))
        events.append((int((start + length) * ticks), bytes([0x80, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    track, now = b"", 0
    for tick, data in events:
        track += _vlq(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks) + b"MTrk" + struct.pack(">I", len(track)) + track


def melodic_phrase(seconds: float, density: float, rng: np.random.Generator) -> tuple[list, float]:
    """Notes of a random-key phrase: sustained chords when sparse, running arpeggios/melody when dense."""
    bpm = rng.uniform(60, 140)
    beats = seconds * bpm / 60
    root = int(rng.integers(45, 60))
    scale = SCALES[int(rng.integers(len(SCALES)))]
    pitches = [root + 12 * octave + step for octave in range(3) for step in scale]
    notes, t = [], 0.0
    step = 4.0 / (1 + round(density * 7))
    while t < beats:
        degree = int(rng.integers(len(scale)))
        chord = [pitches[degree], pitches[degree + 2], pitches[degree + 4]]
        for _ in range(max(1, round(4 / step))):
            if density < 0.3:
                notes += [(t, step * 0.95, p, int(rng.integers(50, 90))) for p in chord]
            else:
                notes.append((t, step * 0.9, int(rng.choice(chord)) + 12 * int(rng.integers(0, 2)), int(rng.integers(60, 110))))
            t += step
    return notes, bpm


def make_melodic(out_dir: Path, count: int, seconds: float, seed: int, soundfont: Path = SOUNDFONT) -> None:
    """Render ``count`` generated MIDI phrases with fluidsynth, cycling through melodic GM programs."""
    if shutil.which("fluidsynth") is None or not soundfont.exists():
        raise SystemExit("needs fluidsynth and a GM soundfont (apt install fluidsynth fluid-soundfont-gm)")
    rng = np.random.default_rng(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            program = MELODIC_PROGRAMS[i % len(MELODIC_PROGRAMS)]
            notes, bpm = melodic_phrase(seconds, (i + 0.5) / count, rng)
            mid = Path(tmp) / f"{i}.mid"
            mid.write_bytes(midi_file(notes, program, bpm))
            wav = out_dir / f"phrase_{i:03d}_gm{program:03d}.wav"
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav), str(soundfont),
                            str(mid)], check=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cak_train.material", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("drums", "melodic"))
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=80, help="number of files (default 80)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each file (default 15)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    make = make_drums if args.kind == "drums" else make_melodic
    make(args.out_dir, args.count, args.seconds, args.seed)
    print(f"wrote {args.count} files to {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
