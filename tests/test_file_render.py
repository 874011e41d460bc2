"""``cak render`` as a chain renderer: chains, alignment, automation, formats, interruption."""
from __future__ import annotations

import json
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf
from pedalboard import Compressor, HighpassFilter
from pedalboard.io import AudioFile

from cak_dsp import Cak, CakEngine, Chain, Preset, render, render_file
from cak_dsp.automation import AutomationError, load_automation
from cak_cli import main

RATE = 44100


def _read(path: Path) -> tuple[np.ndarray, int]:
    with AudioFile(str(path)) as f:
        return f.read(f.frames), int(f.samplerate)


def _write_drums(path: Path, drums: np.ndarray, channels: int = 2, rate: int = RATE, subtype: str = "FLOAT") -> np.ndarray:
    audio = np.stack([np.roll(drums, 2000 * c) for c in range(channels)]) * 0.7
    sf.write(str(path), audio.T, rate, subtype=subtype)
    return _read(path)[0]


def _chain_file(tmp_path: Path, preset: Preset, stages: list[dict]) -> Path:
    preset.save(tmp_path / "kernel.json")
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    return path


def test_cli_chain_equals_step_by_step(tmp_path: Path, preset: Preset, drums: np.ndarray) -> None:
    dry = _write_drums(tmp_path / "in.wav", drums)
    chain = _chain_file(tmp_path, preset, [
        {"type": "HighpassFilter", "cutoff_frequency_hz": 100},
        {"type": "cak", "preset": "kernel.json", "texture": 0.9},
        {"type": "Compressor", "threshold_db": -24, "ratio": 4}])
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain), "-q"]) == 0
    wet, rate = _read(tmp_path / "out.wav")
    step = Compressor(-24, 4)(render(HighpassFilter(100)(dry, RATE), RATE, preset, 0.9), RATE)
    assert rate == RATE and wet.shape == dry.shape
    assert np.abs(wet - step).max() <= 1e-5


def test_cli_latency_reporting_stage_is_aligned(tmp_path: Path, synthetic_preset: Preset, drums: np.ndarray) -> None:
    dry = _write_drums(tmp_path / "in.wav", drums, channels=1)
    chain = _chain_file(tmp_path, synthetic_preset, [
        {"type": "MP3Compressor", "vbr_quality": 2}, {"type": "cak", "preset": "kernel.json", "texture": 0.0}])
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain), "-q"]) == 0
    wet, _ = _read(tmp_path / "out.wav")
    assert wet.shape == dry.shape
    lags = np.arange(-3000, 3001)
    segment = slice(20000, 60000)
    corr = [np.dot(wet[0, segment], np.roll(dry[0], lag)[segment]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0


def _stream_with_knob(audio: np.ndarray, preset: Preset, knob: np.ndarray) -> np.ndarray:
    """A live-style stream (the loudness follower, as live): the knob is set before each
    sample; then flushed and aligned."""
    stage = Cak(preset, level="follow")
    stage.prepare(RATE, 1, audio.shape[0])
    out = []
    for i in range(audio.shape[1]):
        stage.texture = float(knob[i])
        block = audio[:, i:i + 1]
        out.append(stage.process(block, np.empty_like(block)).copy())
    out.append(stage.flush())
    return np.concatenate(out, axis=1)[:, stage.latency_samples:stage.latency_samples + audio.shape[1]]


@pytest.mark.parametrize("interpolation", ["hold", "linear"])
def test_csv_automation_equals_a_stream_whose_knob_moves(tmp_path: Path, synthetic_preset: Preset,
                                                          drums: np.ndarray, interpolation: str) -> None:
    dry = _write_drums(tmp_path / "in.wav", drums[:RATE], channels=1)
    (tmp_path / "env.csv").write_text("time,texture\n0.0,0.0\n0.2,1.4\n0.45,0.3\n# a comment\n0.8,1.0\n")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--preset",
                 str(_chain_file(tmp_path, synthetic_preset, []).parent / "kernel.json"),
                 "--automation", str(tmp_path / "env.csv"), "--interpolation", interpolation, "--level", "follow", "-q"]) == 0
    wet, _ = _read(tmp_path / "out.wav")
    knob = load_automation(tmp_path / "env.csv", interpolation).curve(RATE, 0, dry.shape[1])
    assert (knob.min(), knob.max()) == (0.0, 1.4)
    expected = _stream_with_knob(dry, synthetic_preset, knob)
    assert np.abs(wet - expected).max() <= 1e-6
    constant = render(dry, RATE, synthetic_preset, 0.7)
    assert np.abs(wet - constant).max() > 1e-2


def test_midi_file_cc_automation(tmp_path: Path, synthetic_preset: Preset, drums: np.ndarray) -> None:
    dry = _write_drums(tmp_path / "in.wav", drums[:RATE], channels=2)
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(120)))
    track.append(mido.Message("control_change", control=7, value=100, time=0))    # another controller
    track.append(mido.Message("control_change", control=1, value=0, time=0))
    track.append(mido.Message("control_change", control=1, value=127, time=240))  # 0.25 s at 120 bpm
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(60), time=0))
    track.append(mido.Message("control_change", control=1, value=64, time=240))   # +0.5 s at 60 bpm
    midi.save(str(tmp_path / "song.mid"))
    automation = load_automation(tmp_path / "song.mid", cc=1, low=0.0, high=1.5)
    assert np.allclose(automation.times, [0.0, 0.25, 0.75])
    assert np.allclose(automation.values, [0.0, 1.5, 1.5 * 64 / 127])
    kernel = str(_chain_file(tmp_path, synthetic_preset, []).parent / "kernel.json")

    def cli_render(output: str, *options: str) -> np.ndarray:
        assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / output), "--preset", kernel,
                     "--automation", str(tmp_path / "song.mid"), *options, "--level", "follow", "-q"]) == 0
        return _read(tmp_path / output)[0]

    wet = cli_render("out.wav", "--cc", "1")
    expected = _stream_with_knob(dry, synthetic_preset, automation.curve(RATE, 0, dry.shape[1]))
    assert np.abs(wet - expected).max() <= 1e-6
    assert np.array_equal(cli_render("default-cc.wav"), wet), "controller 1 and range 0 1.5 are the defaults"
    narrow = load_automation(tmp_path / "song.mid", cc=1, low=0.0, high=0.75)
    expected = _stream_with_knob(dry, synthetic_preset, narrow.curve(RATE, 0, dry.shape[1]))
    assert np.abs(cli_render("narrow.wav", "--cc-range", "0", "0.75") - expected).max() <= 1e-6
    with pytest.raises(AutomationError, match="no CC 5 messages"):
        load_automation(tmp_path / "song.mid", cc=5)


@pytest.mark.parametrize("text, message", [
    ("0,0.5\n0.2\n", "line 2: expected 'time,value'"),
    ("0,0.5\n0.1,abc\n", "line 2: not numbers"),
    ("0,0.5\n0.1,2.5\n", "line 2: texture must be between"),
    ("0.5,0.5\n0.1,0.2\n", "line 2: times must not go backwards"),
    ("time,value\n", "no 'time,value' points"),
])
def test_bad_envelopes_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "env.csv"
    path.write_text(text)
    with pytest.raises(AutomationError, match=f"^{path}: {message}"):
        load_automation(path)


@pytest.mark.parametrize(("ext", "subtype", "channels", "rate"), [
    ("wav", "PCM_16", 1, 44100), ("wav", "PCM_24", 2, 48000), ("wav", "FLOAT", 6, 96000),
    ("flac", "PCM_16", 2, 96000), ("ogg", "VORBIS", 1, 44100),
])
def test_output_rate_bit_depth_and_tail(tmp_path: Path, synthetic_preset: Preset, drums: np.ndarray,
                                        ext: str, subtype: str, channels: int, rate: int) -> None:
    src = tmp_path / f"in.{ext}"
    sf.write(str(src), (0.5 * np.stack([np.roll(drums, 999 * c) for c in range(channels)])).T, rate, subtype=subtype)
    frames = sf.info(str(src)).frames
    chain = Chain([Cak(synthetic_preset, 0.6)])
    report = render_file(src, tmp_path / "out.wav", chain, sample_rate=48000, bit_depth=24, tail=0.25)
    info = sf.info(str(tmp_path / "out.wav"))
    assert (info.samplerate, info.channels, info.subtype) == (48000, channels, "PCM_24")
    assert abs(info.frames - (round(frames * 48000 / rate) + 12000)) <= 2
    assert report.latency_samples == chain.latency_samples
    wet, _ = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    assert np.all(np.isfinite(wet)) and np.abs(wet).max() > 0.05


def test_interrupted_render_leaves_nothing(tmp_path: Path, synthetic_preset: Preset, drums: np.ndarray) -> None:
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    _write_drums(src, np.tile(drums, 3), channels=2)
    before = src.read_bytes()
    dst.write_bytes(b"an older render")

    def interrupt(_done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_file(src, dst, Chain([Cak(synthetic_preset, 0.8)]), force=True, progress=interrupt)
    assert src.read_bytes() == before and dst.read_bytes() == b"an older render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_long_files_are_streamed_not_loaded(tmp_path: Path, synthetic_preset: Preset) -> None:
    """A 3-minute stereo file (63 MB as float32) renders with a few MB of Python-side memory."""
    import tracemalloc

    src = tmp_path / "long.wav"
    rng = np.random.default_rng(5)
    with sf.SoundFile(str(src), "w", RATE, 2, subtype="PCM_16") as f:
        for _ in range(180):
            f.write((0.1 * rng.standard_normal((RATE, 2))).astype(np.float32))
    chain = Chain([HighpassFilter(80), Cak(synthetic_preset, 0.8)])
    chain.prepare(RATE, 1 << 15, 2)
    tracemalloc.start()
    try:
        render_file(src, tmp_path / "out.flac", chain)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sf.info(str(tmp_path / "out.flac")).frames == 180 * RATE
    assert peak < 16e6
