"""Hostile input on the offline command line: every argument, preset, chain file and automation
envelope that hypothesis can think of ends in a complete output (exit 0) or in one line on stderr
(exit != 0), never a traceback, a signal death, a stray file or a lost output. Each case runs
``cak`` in a subprocess (about a second each; examples kept modest). The invariants are those of
:mod:`tests.cli_outcome`."""
from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cak_dsp.presets import resolve_preset

from .cli_outcome import check_outcome, error_lines, run_cak

RATE = 44100
SAMPLES = RATE // 4
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 0.5, 2, 1e-300, 1e300, 2 ** 31, 2 ** 64, 10 ** 400, -10 ** 20]),
    st.integers(-10 ** 6, 10 ** 6),
)
junk = st.one_of(numbers, st.text(max_size=8), st.none(), st.booleans(), st.lists(st.integers(), max_size=3),
                 st.just({"a": 1}))


def _write_input(folder: Path) -> Path:
    rng = np.random.default_rng(5)
    path = folder / "in.wav"
    sf.write(str(path), (0.3 * rng.standard_normal((SAMPLES, 2))).astype(np.float32), RATE, subtype="PCM_16")
    return path


def _render(folder: Path, args: list[str], expected: int | None, extra: set[str] = frozenset(),
            output: str = "out.wav") -> None:
    _write_input(folder)
    done = run_cak(["render", "-q", *args, "in.wav", output], folder)
    check_outcome(done, folder / output, expected, folder, {"in.wav", *extra})


def _number_text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)


# -- command-line arguments ---------------------------------------------------------------------
options = st.fixed_dictionaries({}, optional={
    "--tail": st.one_of(numbers.map(_number_text), st.sampled_from(["nan", "inf", "-inf", "1e9", "-5", "x", ""])),
    "--samplerate": st.one_of(st.integers(-10, 10 ** 9).map(str), st.sampled_from(["0", "8000", "48000", "1e8", "x"])),
    "--texture": numbers.map(_number_text),
    "--bit-depth": st.sampled_from(["8", "16", "24", "32", "x"]),
    "--mode": st.sampled_from(["gain", "reference", "loud"]),
    "--level": st.sampled_from(["match", "follow", "off", "max"]),
})


@pytest.mark.slow
@EXAMPLES
@given(chosen=options, suffix=st.sampled_from([".wav", ".flac", ".ogg", ".aiff", ".txt"]))
def test_render_arguments(chosen: dict[str, str], suffix: str) -> None:
    args = [f"{option}={value}" for option, value in chosen.items()]
    expected = None  # when an option does not even parse, the run must fail anyway
    try:
        rate = int(chosen.get("--samplerate", RATE))
        tail = float(chosen.get("--tail", 0.0))
        expected = round(SAMPLES * rate / RATE) + round(tail * rate) if math.isfinite(tail) else None
    except (ValueError, OverflowError):
        pass
    with tempfile.TemporaryDirectory() as tmp:
        _render(Path(tmp), args, expected, output=f"out{suffix}")


# -- preset files ---------------------------------------------------------------------------------
PRESET_FIELDS = [("kernel", "bias"), ("kernel", "scale"), ("kernel", "threshold"), ("kernel", "temperature"),
                 ("normalization", "alpha"), ("normalization", "global_low"), ("normalization", "global_high"),
                 ("normalization", "gamma"), ("stft", "sample_rate"), ("stft", "n_fft"), ("stft", "hop"),
                 ("kernel", "weight")]
preset_edits = st.lists(st.tuples(st.sampled_from(PRESET_FIELDS), junk), min_size=1, max_size=3)


@pytest.mark.slow
@EXAMPLES
@given(edits=preset_edits)
def test_preset_files(edits) -> None:
    data = resolve_preset("drums").to_dict()
    for (section, key), value in edits:
        data[section][key] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "p.json").write_text(json.dumps(data))
        _render(folder, ["--preset", "p.json"], SAMPLES, {"p.json"})


# -- chain files ----------------------------------------------------------------------------------
stages = st.one_of(
    st.fixed_dictionaries({"type": st.just("Gain"), "gain_db": junk}),
    st.fixed_dictionaries({"type": st.just("HighpassFilter"), "cutoff_frequency_hz": junk}),
    st.fixed_dictionaries({"type": st.just("Reverb"), "room_size": junk}),
    st.fixed_dictionaries({"type": st.just("Delay"), "delay_seconds": junk}),
    st.fixed_dictionaries({"type": st.just("cak"), "texture": junk}),
    st.fixed_dictionaries({"type": st.just("cak"), "preset": junk}),
    st.fixed_dictionaries({"type": st.sampled_from(["PitchShift", "Plugin", "nope", "plugin"])}),
    junk,
)


@pytest.mark.slow
@EXAMPLES
@given(chain=st.lists(stages, max_size=3), wrapper=st.sampled_from(["file", "bare", "version"]))
def test_chain_files(chain: list, wrapper: str) -> None:
    data = {"file": {"format": "cak-chain", "version": 1, "stages": chain},
            "bare": chain, "version": {"format": "cak-chain", "version": 2, "stages": chain}}[wrapper]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "c.json").write_text(json.dumps(data))
        _render(folder, ["--chain", "c.json"], SAMPLES, {"c.json"})


# -- automation envelopes -------------------------------------------------------------------------
rows = st.lists(st.one_of(st.tuples(numbers, numbers).map(lambda p: f"{_number_text(p[0])},{_number_text(p[1])}"),
                          st.text(alphabet=",#0123456789.e-naif \t", max_size=12)), max_size=6)


@pytest.mark.slow
@EXAMPLES
@given(lines=rows)
def test_automation_envelopes(lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "a.csv").write_text("\n".join(lines) + "\n")
        _render(folder, ["--automation", "a.csv"], SAMPLES, {"a.csv"})


# -- the cases the issue names, each refused in one line naming what and the range -----------------
DEEP = "[" * 100000 + "]" * 100000


@pytest.mark.parametrize(("args", "files", "message"), [
    (["--tail", "nan"], {}, r"argument --tail: must be a number between 0 and 600 seconds, got nan"),
    (["--tail", "-5"], {}, r"argument --tail: .* between 0 and 600 seconds, got -5"),
    (["--tail", "1e9"], {}, r"argument --tail: .* between 0 and 600 seconds"),
    (["--samplerate", "0"], {}, r"argument --samplerate/-r: must be an integer between 8000 and 384000 Hz, got 0"),
    (["--samplerate", "100000000"], {}, r"between 8000 and 384000 Hz, got 100000000"),
    (["--chain", "c.json"], {"c.json": '{"format": "cak-chain", "version": 1, "stages": '
                                       '[{"type": "Gain", "gain_db": NaN}]}'},
     r"c.json: stage 1: Gain parameter 'gain_db' must be a finite number, got nan"),
    (["--chain", "c.json"], {"c.json": '{"format": "cak-chain", "version": 1, "stages": '
                                       '[{"type": "PitchShift", "semitones": 3}]}'},
     r"c.json: stage 1: PitchShift: produced no output when streamed"),
    (["--chain", "c.json"], {"c.json": DEEP}, r"c.json: not a chain file: nested too deeply"),
    (["--chain", "c.toml"], {"c.toml": "a = " + DEEP}, r"c.toml: not a chain file: nested too deeply"),
    (["--chain", "c.json"], {"c.json": '{"format": "cak-chain", "version": 1, "stages": '
                                       '[{"type": "plugin", "path": "fake.vst3"}]}', "fake.vst3": "not a plugin"},
     r"c.json: stage 1: cannot load plugin fake.vst3: VST3Plugin: Unable to scan plugin fake.vst3: "
     r"unsupported plugin format or scan failure$"),
    (["--preset", "p.json"], {"p.json": ("normalization", "alpha", 1e300)},
     r"p.json: field 'normalization.alpha': must be a number between 1e-06 and 1e\+06, got 1e\+300"),
    (["--preset", "p.json"], {"p.json": ("stft", "n_fft", 2 ** 30)},
     r"p.json: field 'stft.n_fft': must be a power of two between 64 and 16384, got 1073741824"),
])
def test_named_hostile_cases_are_one_line(tmp_path: Path, args: list[str], files: dict, message: str) -> None:
    for name, content in files.items():
        if isinstance(content, tuple):
            data = resolve_preset("drums").to_dict()
            data[content[0]][content[1]] = content[2]
            content = json.dumps(data)
        (tmp_path / name).write_text(content)
    _write_input(tmp_path)
    done = run_cak(["render", "-q", *args, "in.wav", "out.wav"], tmp_path)
    check_outcome(done, tmp_path / "out.wav", None, tmp_path, {"in.wav", *files})
    assert done.returncode == 2
    assert re.search(message, error_lines(done.stderr)[0]), done.stderr


def test_preset_show_refuses_a_huge_fft_at_once(tmp_path: Path) -> None:
    """n_fft 2**30 used to pass validation and grow past 16 GB in ``cak preset show``."""
    data = resolve_preset("drums").to_dict()
    data["stft"]["n_fft"] = 2 ** 30
    (tmp_path / "p.json").write_text(json.dumps(data))
    done = run_cak(["preset", "show", "p.json"], tmp_path, timeout=60)
    assert done.returncode == 2 and len(error_lines(done.stderr)) == 1 and "stft.n_fft" in done.stderr


def test_a_wav_whose_data_stops_early_is_refused(tmp_path: Path) -> None:
    """pedalboard pads a WAV cut short with silence; cak refuses it in one line instead."""
    whole = _write_input(tmp_path).read_bytes()
    (tmp_path / "in.wav").write_bytes(whole[:len(whole) // 2])
    done = run_cak(["render", "-q", "in.wav", "out.wav"], tmp_path)
    check_outcome(done, tmp_path / "out.wav", None, tmp_path, {"in.wav"})
    assert done.returncode == 2
    assert f"in.wav: truncated: its header promises {SAMPLES} samples but the file holds" in done.stderr
