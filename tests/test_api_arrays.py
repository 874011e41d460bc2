"""Hostile arrays at the Python API (cak_dsp.arrays): every shape, sample type, layout, non-finite
value and ``out=`` array either works (finite float32 of the right shape, within SAMPLE_LIMIT) or is
refused with a one-line ValueError before any jitted code runs. The cases a wrong index would turn
into a crash run in a subprocess, so that a segfault fails the test instead of killing pytest."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cak_dsp import SAMPLE_LIMIT, Cak, CakEngine, Chain, Preset, render
from cak_dsp.arrays import MAX_CHANNELS, as_float32, check_prepare

RATE = 44100
CHANNELS, MAX_BLOCK = 2, 64
DTYPES = ["float32", "float64", "float16", ">f4", "int8", "int16", "int32", "uint8", "int64", "uint16", "bool",
          "complex64", "object"]
REFUSED_DTYPES = {"int64", "uint16", "bool", "complex64", "object"}
SPECIALS = st.sampled_from([0.0, 0.5, -1.0, np.nan, np.inf, -np.inf, 3e38, -3e38, 1e-42])


@pytest.fixture(scope="module")
def engine(synthetic_preset: Preset) -> CakEngine:
    engine = CakEngine(synthetic_preset)
    engine.prepare(RATE, MAX_BLOCK, CHANNELS)
    return engine


@pytest.fixture(scope="module")
def stage(synthetic_preset: Preset) -> Cak:
    stage = Cak(synthetic_preset, texture=1.0, level="follow")
    stage.prepare(RATE, MAX_BLOCK, CHANNELS)
    return stage


def _array(draw, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return np.array(_values(draw, shape, dtype))


def _values(draw, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    size = int(np.prod(shape)) if shape else 1
    values = np.asarray(draw(st.lists(SPECIALS, min_size=size, max_size=size)), np.float64).reshape(shape)
    if dtype == "object":
        return values.astype(object)
    if np.dtype(dtype).kind in "iub":
        info = np.iinfo(dtype) if np.dtype(dtype).kind != "b" else None
        finite = np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=-1.0)
        with np.errstate(invalid="ignore"):  # int64's top is not a float64: the cast rounds it
            return finite.astype(dtype) if info is None else \
                np.clip(finite * info.max, info.min, info.max).astype(dtype)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


@st.composite
def blocks(draw) -> tuple[np.ndarray, np.ndarray | None]:
    """A block of any shape, sample type and layout (C, Fortran, strided, reversed, read-only), and
    an ``out`` that is None, right, or wrong in shape, type or writeability."""
    n = draw(st.integers(0, MAX_BLOCK + 2))
    shape = draw(st.sampled_from([(CHANNELS, n), (n, CHANNELS), (n,), (1, n), (3, n), (CHANNELS, n, 1), ()]))
    block = _array(draw, shape, draw(st.sampled_from(DTYPES)))
    layout = draw(st.sampled_from(["c", "fortran", "strided", "reversed", "readonly"]))
    if block.ndim == 2 and layout == "fortran":
        block = np.asfortranarray(block)
    elif block.ndim == 2 and layout == "strided":
        block = np.repeat(block, 2, axis=1)[:, ::2]
    elif block.ndim == 2 and layout == "reversed":
        block = block[:, ::-1]
    elif layout == "readonly":
        block.flags.writeable = False
    kind = draw(st.sampled_from(["none", "right", "short", "float64", "readonly", "transposed"]))
    good = (CHANNELS, block.shape[1]) if block.ndim == 2 else (CHANNELS, max(n, 1))
    out = {"none": None, "right": np.zeros(good, np.float32), "short": np.zeros((CHANNELS, 8), np.float32),
           "float64": np.zeros(good), "transposed": np.zeros(good[::-1], np.float32).T,
           "readonly": np.zeros(good, np.float32)}[kind]
    if kind == "readonly":
        out.flags.writeable = False
    return block, out


def _valid_block(block: np.ndarray) -> bool:
    dtype = block.dtype
    return (block.ndim == 2 and block.shape[0] == CHANNELS and 1 <= block.shape[1] <= MAX_BLOCK
            and dtype.kind in "fiu" and str(dtype) not in REFUSED_DTYPES and dtype.name not in REFUSED_DTYPES)


def _valid_out(out: np.ndarray | None, block: np.ndarray) -> bool:
    return out is None or (out.shape == block.shape and out.dtype == np.float32 and out.flags.writeable)


def _one_line(exc: BaseException) -> None:
    assert isinstance(exc, ValueError) and "\n" not in str(exc) and str(exc), repr(exc)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=blocks())
def test_engine_process_takes_or_refuses_any_block(engine: CakEngine, case) -> None:
    block, out = case
    before = block.copy() if block.dtype != object else None
    try:
        result = engine.process(block, out=out)
    except Exception as exc:  # noqa: BLE001 - what was raised is the point
        _one_line(exc)
        assert not (_valid_block(block) and _valid_out(out, block)), f"refused a valid block: {exc}"
        return
    assert _valid_block(block) and _valid_out(out, block)
    assert result.dtype == np.float32 and result.shape == block.shape
    assert out is None or result is out
    assert np.all(np.isfinite(result)) and np.abs(result).max() <= SAMPLE_LIMIT
    if before is not None and out is not block:
        np.testing.assert_array_equal(block, before)  # the input is only read


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=blocks())
def test_stage_process_takes_or_refuses_any_block(stage: Cak, case) -> None:
    """The chain stage (engine, follower's delay line, output stage) refuses before any of its parts run."""
    block, out = case
    if out is None:
        out = np.zeros(block.shape, np.float32) if block.ndim == 2 else np.zeros((CHANNELS, 1), np.float32)
    try:
        result = stage.process(block, out)
    except Exception as exc:  # noqa: BLE001
        _one_line(exc)
        assert not (_valid_block(block) and _valid_out(out, block)), f"refused a valid block: {exc}"
        return
    assert np.all(np.isfinite(result)) and np.abs(result).max() <= SAMPLE_LIMIT


@st.composite
def signals(draw) -> np.ndarray:
    n = draw(st.integers(0, 3000))
    shape = draw(st.sampled_from([(n,), (1, n), (2, n), (3, n), (n, 2), (MAX_CHANNELS + 1, 4), (0, n)]))
    return _array(draw, shape, draw(st.sampled_from(DTYPES)))


def _valid_signal(audio: np.ndarray) -> bool:
    if audio.dtype.kind not in "fiu" or audio.dtype.name in REFUSED_DTYPES:
        return False
    if audio.ndim == 1:
        return True
    channels, samples = audio.shape
    return 1 <= channels <= MAX_CHANNELS and channels <= max(samples, 2)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(audio=signals())
def test_whole_signal_calls_take_or_refuse_any_array(synthetic_preset: Preset, audio: np.ndarray) -> None:
    """render, Cak(...)(audio, rate) and Chain(...)(audio, rate): finite, same shape, or one line."""
    for call in (lambda a: render(a, RATE, synthetic_preset, 1.0),
                 lambda a: Chain([Cak(synthetic_preset, texture=1.0)])(a, RATE)):
        try:
            result = call(audio)
        except ValueError as exc:
            _one_line(exc)
            assert not _valid_signal(audio), f"refused a valid signal {audio.shape} {audio.dtype}: {exc}"
            continue
        assert _valid_signal(audio), f"accepted {audio.shape} {audio.dtype}"
        assert result.shape == audio.shape and result.dtype == np.float32
        assert np.all(np.isfinite(result)) and (result.size == 0 or np.abs(result).max() <= SAMPLE_LIMIT)


@pytest.mark.parametrize("dtype, full_scale, offset", [("int8", 128, 0), ("int16", 32768, 0),
                                                        ("int32", 2 ** 31, 0), ("uint8", 128, 128)])
def test_integer_pcm_is_scaled_to_full_scale(synthetic_preset: Preset, dtype: str, full_scale: int, offset: int) -> None:
    info = np.iinfo(dtype)
    pcm = np.random.default_rng(1).integers(info.min, info.max, (2, 5000), endpoint=True).astype(dtype)
    expected = (pcm.astype(np.float64) - offset) / full_scale
    np.testing.assert_allclose(as_float32(pcm), expected, rtol=0, atol=1e-7)
    assert np.abs(as_float32(pcm)).max() <= 1.0
    identity = Cak(synthetic_preset, texture=0.0)(pcm, RATE)  # c = 0 is the identity: the scaled input
    np.testing.assert_allclose(identity, expected, rtol=0, atol=1e-6)


def test_samples_channels_layout_is_refused_with_the_expected_layout(synthetic_preset: Preset) -> None:
    with pytest.raises(ValueError, match=r"shape \(44100, 2\) is ambiguous: expected \(channels, samples\)"):
        Cak(synthetic_preset)(np.zeros((44100, 2), np.float32), RATE)
    with pytest.raises(ValueError, match=r"pass audio.T"):
        render(np.zeros((40, 3), np.float32), RATE, synthetic_preset)
    engine = CakEngine(synthetic_preset)
    engine.prepare(RATE, 512, 2)
    with pytest.raises(ValueError, match=r"looks like \(samples, channels\): pass block.T"):
        engine.process(np.zeros((512, 2), np.float32))


def test_mono_and_float64_are_accepted(synthetic_preset: Preset) -> None:
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 3000)
    np.testing.assert_allclose(Cak(synthetic_preset, texture=0.0)(x, RATE), x.astype(np.float32), atol=1e-6)
    engine = CakEngine(synthetic_preset)
    engine.prepare(RATE, 64, 1)
    assert engine.process(x[:64]).shape == (1, 64)


@pytest.mark.parametrize("args, message", [
    ((0, 64, 2), "sample_rate must be a whole number from 8000 to 384000 Hz"),
    ((float("nan"), 64, 2), "sample_rate"), ((44100.5, 64, 2), "sample_rate"),
    ((44100, 0, 2), "max_block must be a whole number from 1"), ((44100, 1 << 40, 2), "max_block"),
    ((44100, 64.5, 2), "max_block"), ((44100, 64, 0), "channels must be a whole number from 1 to 64"),
    ((44100, 64, 65), "channels"), ((44100, 64, True), "channels"), ((44100, "64", 2), "max_block")])
def test_prepare_refuses_what_would_size_work_wrongly(args, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_prepare(*args)


_CRASH_PRONE = {
    "out_too_short": "e.process(b, out=np.zeros((2, 8), 'f4'))",
    "out_too_long": "e.process(b[:, :8], out=np.zeros((2, 512), 'f4'))",
    "out_one_channel": "e.process(b, out=np.zeros((1, 512), 'f4'))",
    "out_float64": "e.process(b, out=np.zeros((2, 512)))",
    "out_int16": "e.process(b, out=np.zeros((2, 512), 'i2'))",
    "out_readonly": "o = np.zeros((2, 512), 'f4'); o.flags.writeable = False; e.process(b, out=o)",
    "block_3d": "e.process(np.zeros((2, 512, 1), 'f4'))",
    "block_too_long": "e.process(np.zeros((2, 513), 'f4'))",
    "block_three_channels": "e.process(np.zeros((3, 512), 'f4'))",
    "automation_short": "e.process_automated(b, np.zeros(100))",
    "automation_nan": "e.process_automated(b, np.full(512, np.nan))",
    "stage_out_short": "s.process(b, np.zeros((2, 8), 'f4'))",
    "stage_automation_short": "s.process(b, np.zeros((2, 512), 'f4'), np.zeros(8))",
    "chain_out_short": "c.process(b, np.zeros((2, 8), 'f4'))",
    "chain_block_long": "c.process(np.zeros((2, 4096), 'f4'), np.zeros((2, 4096), 'f4'))",
}


def test_crash_prone_calls_are_refused_in_a_subprocess() -> None:
    """Each call that a missing check would let the jitted code index out of bounds runs in a
    fresh interpreter: it must be refused with a ValueError, and the process must exit normally
    (a segfault or a heap-corruption abort would show as a signal)."""
    script = textwrap.dedent("""
        import numpy as np
        from cak_dsp import Cak, CakEngine, Chain
        from cak_dsp.presets import resolve_preset

        e = CakEngine(resolve_preset("drums")); e.prepare(44100, 512, 2)
        s = Cak("drums", level="follow"); s.prepare(44100, 512, 2)
        c = Chain([Cak("drums")]); c.prepare(44100, 512, 2)
        b = np.random.default_rng(0).uniform(-1, 1, (2, 512)).astype(np.float32)
        for name, call in CASES.items():
            try:
                exec(call)
            except ValueError as exc:
                assert "\\n" not in str(exc), name
                print("refused", name, flush=True)
            else:
                print("accepted", name, flush=True)
        e.process(b)
        print("alive")
    """).replace("CASES", repr(_CRASH_PRONE))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    lines = done.stdout.splitlines()
    assert lines[-1] == "alive" and lines[:-1] == [f"refused {name}" for name in _CRASH_PRONE], done.stdout
