"""Real test material made from Debian packages: drums, a fluidsynth render, speech (mono, 44.1 kHz).

Each maker returns float32 audio at the EBU R128 reference level, -23 dBFS RMS, with peaks at most
-1 dBFS (drums, whose crest factor is near 30 dB, end up quieter), or raises
:class:`MaterialMissing` naming the package to install. Used by the fidelity tests and
``benchmarks/fidelity.py``.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 44100
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
SPEECH_TEXT = ("The quick brown fox jumps over the lazy dog. Sixty-two sharp scissors sliced through seven "
               "silk sheets. A texture knob at zero changes nothing; turned up, it grows the grain of the sound.")


class MaterialMissing(RuntimeError):
    """A package the material needs is not installed."""


REFERENCE_RMS_DBFS = -23.0
PEAK_DBFS = -1.0


def _level(x: np.ndarray) -> np.ndarray:
    """Scale to REFERENCE_RMS_DBFS, or lower where that would put a peak above PEAK_DBFS (as a
    real recording of a spiky source, drums, has to be)."""
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    peak = float(np.abs(x).max())
    gain = min(10 ** (REFERENCE_RMS_DBFS / 20) / max(rms, 1e-12), 10 ** (PEAK_DBFS / 20) / max(peak, 1e-12))
    return (x * gain).astype(np.float32)


def _resampled(audio: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    ratio = Fraction(RATE, rate).limit_denominator(1000)
    return resample_poly(audio, ratio.numerator, ratio.denominator) if rate != RATE else audio


def drums(seconds: float = 20.0, seed: int = 3) -> np.ndarray:
    """A 16th-note groove sequenced from one hydrogen drum kit's real samples."""
    from cak_train.material import DRUMKITS, drum_groove, drum_kits

    kits = drum_kits() if DRUMKITS.is_dir() else {}
    if not kits:
        raise MaterialMissing("hydrogen-drumkits not installed (apt-get install hydrogen-drumkits)")
    name = "Millo_MultiLayered3" if "Millo_MultiLayered3" in kits else sorted(kits)[0]
    return _level(drum_groove(kits[name], seconds, 0.6, np.random.default_rng(seed)))


def music(seconds: float = 20.0, seed: int = 5) -> np.ndarray:
    """Two GM instruments (piano phrase and string pad) rendered by fluidsynth, mixed."""
    from cak_train.material import SOUNDFONT, melodic_phrase, midi_file

    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise MaterialMissing("fluidsynth and fluid-soundfont-gm not installed "
                              "(apt-get install fluidsynth fluid-soundfont-gm)")
    import soundfile as sf

    rng = np.random.default_rng(seed)
    mix = np.zeros(int(seconds * RATE))
    with tempfile.TemporaryDirectory() as tmp:
        for program, density in ((0, 0.7), (48, 0.1)):
            notes, bpm = melodic_phrase(seconds, density, rng)
            mid, wav = Path(tmp) / f"{program}.mid", Path(tmp) / f"{program}.wav"
            mid.write_bytes(midi_file(notes, program, bpm))
            subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(RATE), "-F", str(wav),
                            str(SOUNDFONT), str(mid)], check=True, capture_output=True)
            audio, _ = sf.read(wav, dtype="float64", always_2d=True)
            part = audio.mean(axis=1)[: mix.size]
            mix[: part.size] += part
    return _level(mix)


def speech(seconds: float = 20.0) -> np.ndarray:
    """espeak-ng sentences and the alsa-utils voice prompts, joined with short pauses."""
    import soundfile as sf

    pieces = []
    if shutil.which("espeak-ng") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), SPEECH_TEXT], check=True, capture_output=True)
            audio, rate = sf.read(wav, dtype="float64", always_2d=True)
            pieces.append(_resampled(audio.mean(axis=1), rate))
    for path in sorted(ALSA_SOUNDS.glob("*.wav")):
        if path.stem != "Noise":
            audio, rate = sf.read(path, dtype="float64", always_2d=True)
            pieces.append(_resampled(audio.mean(axis=1), rate))
    if not pieces:
        raise MaterialMissing("no speech: install espeak-ng or alsa-utils")
    pause = np.zeros(RATE // 5)
    joined = np.concatenate([p for piece in pieces for p in (piece, pause)])
    reps = int(np.ceil(seconds * RATE / joined.size))
    return _level(np.tile(joined, reps)[: int(seconds * RATE)])


MATERIALS = {"drums": drums, "music": music, "speech": speech}
