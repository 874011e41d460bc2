"""Streaming equals offline, whatever the block sizes, channel count or texture moves."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import CakEngine, Preset, render

RATE = 44100


def _random_blocks(seed: int, max_block: int = 4096):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, max_block + 1))


def _signal(channels: int, seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 1.3 * t) > 0)
    return np.stack([tone + 0.2 * rng.standard_normal(n) for _ in range(channels)]).astype(np.float32)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("texture", [0.0, 0.35, 0.8, 1.5])
@pytest.mark.parametrize("mode", ["gain", "reference"])
def test_random_blocks_equal_offline(preset: Preset, run_stream, channels: int, texture: float, mode: str) -> None:
    audio = _signal(channels, 1.5, seed=channels)
    offline = render(audio, RATE, preset, texture, mode, level="off", soft_clip=False)
    engine = CakEngine(preset, mode)
    engine.prepare(RATE, 4096, channels)
    engine.texture = texture
    streamed = run_stream(engine, audio, _random_blocks(int(texture * 100) + channels))
    assert streamed.shape == offline.shape == audio.shape
    assert np.abs(streamed - offline).max() <= 1e-5


@pytest.mark.parametrize("channels", [1, 2])
def test_texture_moves_mid_stream_equal_offline_automation(preset: Preset, run_stream, channels: int) -> None:
    audio = _signal(channels, 2.0, seed=5)
    rng = np.random.default_rng(9)
    curve = np.empty(audio.shape[1])
    engine = CakEngine(preset)
    engine.prepare(RATE, 4096, channels)
    values = iter(rng.uniform(0.0, 2.0, 10_000))
    moves: list[tuple[int, float]] = []

    def knob(start: int) -> None:
        if rng.random() < 0.3:
            engine.texture = next(values)
        moves.append((start, engine.texture))

    streamed = run_stream(engine, audio, _random_blocks(11, 2048), on_block=knob)
    for (start, value), (stop, _) in zip(moves, moves[1:] + [(audio.shape[1], 0.0)]):
        curve[start:stop] = value
    assert len({v for _, v in moves}) > 5
    offline = render(audio, RATE, preset, curve, level="off", soft_clip=False)
    assert np.abs(streamed - offline).max() <= 1e-5


def test_process_in_place_and_layouts(synthetic_preset: Preset) -> None:
    audio = _signal(2, 0.5, seed=3)
    reference = CakEngine(synthetic_preset)
    reference.prepare(RATE, 256, 2)
    reference.texture = 1.0
    in_place = CakEngine(synthetic_preset)
    in_place.prepare(RATE, 256, 2)
    in_place.texture = 1.0
    interleaved = np.ascontiguousarray(audio.T)
    for start in range(0, audio.shape[1], 256):
        expected = reference.process(audio[:, start:start + 256]).copy()
        block = interleaved[start:start + 256].T
        in_place.process(block, out=block)
        assert np.array_equal(block, expected)


def test_reset_restarts_from_silence(synthetic_preset: Preset) -> None:
    audio = _signal(1, 0.3, seed=4)
    engine = CakEngine(synthetic_preset)
    engine.prepare(RATE, audio.shape[1], 1)
    engine.texture = 1.2
    first = engine.process(audio).copy()
    engine.process(audio[:, ::-1].copy())
    engine.reset()
    assert np.array_equal(engine.process(audio), first)


def test_blocks_are_validated(synthetic_preset: Preset) -> None:
    engine = CakEngine(synthetic_preset)
    with pytest.raises(RuntimeError, match="prepare"):
        engine.process(np.zeros((1, 4), np.float32))
    engine.prepare(RATE, 64, 2)
    with pytest.raises(ValueError, match=r"\(2, 1..64\)"):
        engine.process(np.zeros((2, 65), np.float32))
    with pytest.raises(ValueError, match="texture"):
        engine.texture = 2.5


def test_prepare_compiles_every_layout_ahead_of_the_callback(synthetic_preset: Preset) -> None:
    from cak_dsp.engine import _process

    engine = CakEngine(synthetic_preset)
    engine.prepare(RATE, 128, 2)
    compiled = len(_process.signatures)
    interleaved = np.zeros((128, 2), np.float32)
    strided = np.zeros((2, 256), np.float32)[:, ::2]
    for block in (np.zeros((2, 128), np.float32), interleaved.T, strided):
        engine.process(block)
        engine.process(block, out=block)
    assert len(_process.signatures) == compiled
