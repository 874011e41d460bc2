"""Chains of pedalboard plugins and CAK stages: equal to the step-by-step computation, aligned,
streaming equal to offline, tails kept on request, chain files validated."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pedalboard import Compressor, Delay, Gain, HighpassFilter, MP3Compressor, PitchShift, Resample, Reverb

from cak_dsp import Cak, Chain, ChainError, Preset, load_chain, render
from cak_dsp.plugin_stage import StageError

RATE = 44100


def _signal(channels: int = 2, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((channels, int(seconds * RATE)))
    x[:, ::9000] += 0.8
    return x.astype(np.float32)


def test_chain_equals_step_by_step(preset: Preset, drums: np.ndarray) -> None:
    audio = np.stack([drums, np.roll(drums, 3000)])
    chain = Chain([HighpassFilter(120), Cak(preset, texture=0.9), Compressor(-20, 4)])
    wet = chain(audio, RATE)
    step = HighpassFilter(120)(audio, RATE)
    step = render(step, RATE, preset, 0.9)
    step = Compressor(-20, 4)(step, RATE)
    assert wet.shape == audio.shape and wet.dtype == np.float32
    assert np.abs(wet - step).max() <= 1e-5


@pytest.mark.parametrize("plugin", [Resample(8000), MP3Compressor()], ids=["Resample", "MP3Compressor"])
def test_latency_reporting_stage_comes_out_aligned(synthetic_preset: Preset, plugin) -> None:
    audio = _signal()
    chain = Chain([plugin, Cak(synthetic_preset, texture=0.0)])
    wet = chain(audio, RATE)
    assert chain.stages[0].latency_samples > 0
    assert wet.shape == audio.shape
    window = slice(RATE // 2, RATE)
    lags = np.arange(-2000, 2001)
    corr = [np.dot(wet[0, window], np.roll(audio[0], lag)[window]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0


@pytest.mark.parametrize("channels", [1, 2])
def test_streaming_equals_offline(synthetic_preset: Preset, channels: int) -> None:
    """Random block sizes give the offline render, delayed by the reported latency (for plugins
    whose output does not depend on where blocks start; pedalboard's Resample and codecs do)."""
    audio = _signal(channels, 1.5, seed=channels)

    def make() -> Chain:
        return Chain([HighpassFilter(60), Cak(synthetic_preset, texture=0.7, level="follow"), Reverb(room_size=0.6),
                          Compressor(-12, 3)])

    offline = make()(audio, RATE)
    live = make()
    live.prepare(RATE, max_block=512, channels=channels)
    rng = np.random.default_rng(7)
    padded = np.concatenate([audio, np.zeros((channels, live.latency_samples), np.float32)], axis=1)
    out, at = [], 0
    while at < padded.shape[1]:
        n = int(rng.integers(channels + 1, 513))
        block = padded[:, at:at + n]
        if block.shape[1] <= channels:
            block = np.concatenate([block, np.zeros((channels, channels + 1 - block.shape[1]), np.float32)], axis=1)
        out.append(live.process(block, np.empty_like(block)).copy())
        at += n
    streamed = np.concatenate(out, axis=1)[:, live.latency_samples:live.latency_samples + audio.shape[1]]
    # the offline end is flushed (the last frame sees silence as its future), the stream ran on
    settled = slice(0, audio.shape[1] - 2 * 2048)
    assert np.abs(streamed[:, settled] - offline[:, settled]).max() <= 1e-5


def test_tail_is_kept_on_request(synthetic_preset: Preset) -> None:
    audio = _signal(2, 1.0)
    chain = Chain([Cak(synthetic_preset, texture=0.5), Delay(delay_seconds=0.25, feedback=0.5, mix=0.5)])
    cut = chain(audio, RATE)
    kept = chain(audio, RATE, tail=RATE)
    assert cut.shape == audio.shape and kept.shape == (2, 2 * RATE)
    # CAK's last frames see the tail's silence rather than the flushed end: the last 2 windows
    assert np.abs(kept[:, :RATE - 4096] - cut[:, :RATE - 4096]).max() == 0.0
    assert np.sqrt(np.mean(kept[:, RATE + RATE // 8:] ** 2)) > 1e-3


def test_texture_knob_moves_every_cak_stage(synthetic_preset: Preset) -> None:
    chain = Chain([Cak(synthetic_preset, 0.2), HighpassFilter(50), Cak(synthetic_preset, 0.4)])
    chain.texture = 1.1
    assert [s.texture for s in chain.cak_stages] == [1.1, 1.1]
    audio = _signal(1, 1.0)
    at_zero = chain(audio, RATE, texture=0.0)
    assert np.abs(at_zero - HighpassFilter(50)(audio, RATE)).max() <= 1e-5


def test_cak_is_a_pedalboard_style_effect(synthetic_preset: Preset) -> None:
    audio = _signal(2, 1.0)
    effect = Cak(synthetic_preset, texture=0.6)
    assert np.array_equal(effect(audio, RATE), render(audio, RATE, synthetic_preset, 0.6))


def test_a_plugin_that_cannot_stream_is_refused() -> None:
    """PitchShift gives nothing when streamed in live blocks; in offline blocks it comes out late
    and silent: refused at either size, live and offline alike, naming the stage."""
    for block in (256, 1 << 15):
        with pytest.raises(StageError, match="^stage 2: PitchShift: produced no output"):
            Chain([Gain(0.0), PitchShift(2.0)]).prepare(RATE, block, 2)


def test_chain_file_builds_the_same_chain(tmp_path, synthetic_preset: Preset) -> None:
    synthetic_preset.save(tmp_path / "kernel.json")
    description = {"format": "cak-chain", "version": 1, "stages": [
        {"type": "HighpassFilter", "cutoff_frequency_hz": 120},
        {"type": "cak", "preset": "kernel.json", "texture": 0.9},
        {"type": "Compressor", "threshold_db": -20, "ratio": 4}]}
    (tmp_path / "chain.json").write_text(json.dumps(description))
    (tmp_path / "chain.toml").write_text(
        'format = "cak-chain"\nversion = 1\n'
        '[[stages]]\ntype = "HighpassFilter"\ncutoff_frequency_hz = 120\n'
        '[[stages]]\ntype = "cak"\npreset = "kernel.json"\ntexture = 0.9\n'
        '[[stages]]\ntype = "Compressor"\nthreshold_db = -20\nratio = 4\n')
    audio = _signal(2, 1.0)
    expected = Chain([HighpassFilter(120), Cak(synthetic_preset, 0.9), Compressor(-20, 4)])(audio, RATE)
    for name in ("chain.json", "chain.toml"):
        assert np.array_equal(load_chain(tmp_path / name)(audio, RATE), expected)


@pytest.mark.parametrize("stages, message", [
    ([{"type": "Compresor"}], "stage 1: unknown stage type 'Compresor'"),
    ([{"type": "Gain"}, {"type": "Compressor", "rato": 3}], "stage 2: Compressor has no parameter 'rato'"),
    ([{"type": "Compressor", "ratio": "lots"}], "stage 1: Compressor parameter 'ratio' cannot be 'lots'"),
    ([{"type": "cak", "preset": "no-such-preset"}], "stage 1: no-such-preset: no such preset"),
    ([{"type": "cak", "texture": 7}], "stage 1: texture must be between"),
    ([{"type": "cak", "mode": "loud"}], "stage 1: field 'mode' must be one of"),
    ([{"type": "cak", "geometry": "tiny"}], "stage 1: field 'geometry' must be one of"),
    ([{"type": "plugin", "path": "missing.vst3"}], "stage 1: plugin file .*missing.vst3 does not exist"),
    ([{"type": "Convolution", "impulse_response_filename": "missing.wav"}], "stage 1: Convolution: "),
    ([], "field 'stages' must be a non-empty list"),
])
def test_bad_chain_files_name_the_stage_and_field(tmp_path, stages: list, message: str) -> None:
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    with pytest.raises(ChainError, match=f"^{path}: .*{message}"):
        load_chain(path)


def test_chain_file_geometry(tmp_path, synthetic_preset: Preset) -> None:
    synthetic_preset.save(tmp_path / "kernel.json")
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": [
        {"type": "cak", "preset": "kernel.json", "texture": 0.5, "geometry": "low-latency"}, {"type": "Gain", "gain_db": 0}]}))
    chain = load_chain(path)
    chain.prepare(RATE, 64, 2)
    standard = Chain([Cak(synthetic_preset, 0.5)])
    standard.prepare(RATE, 64, 2)
    assert chain.latency_samples < standard.latency_samples
    audio = _signal(2, 1.0)
    assert np.array_equal(chain(audio, RATE), render(audio, RATE, synthetic_preset, 0.5, geometry="low-latency"))


def test_unreadable_chain_files(tmp_path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    with pytest.raises(ChainError, match="broken.json: not a valid JSON chain file"):
        load_chain(broken)
    with pytest.raises(ChainError, match="missing.json: cannot read chain file"):
        load_chain(tmp_path / "missing.json")
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"format": "cak-preset", "version": 1, "stages": [{"type": "Gain"}]}))
    with pytest.raises(ChainError, match="field 'format' must be 'cak-chain'"):
        load_chain(wrong)
