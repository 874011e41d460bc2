"""The low-latency geometry: exact latency, identity at c = 0, streaming == offline, windows."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import CakEngine, Preset, render
from cak_dsp.geometry import GEOMETRIES, TAP_FRAMES, asymmetric_windows, make_geometry, periodic_hann

RATES = [44100, 48000]


def _causal(preset: Preset) -> Preset:
    data = preset.to_dict()
    for row in data["kernel"]["weight"]:
        row[2] = 0.0
    return Preset.from_dict(data)


@pytest.fixture(params=["published", "synthetic", "causal"])
def any_preset(request: pytest.FixtureRequest, synthetic_preset: Preset) -> Preset:
    if request.param == "causal":
        return _causal(synthetic_preset)
    return request.getfixturevalue(f"{request.param}_preset")


def _through(engine: CakEngine, audio: np.ndarray, block: int) -> np.ndarray:
    out = np.zeros_like(audio)
    for start in range(0, audio.shape[1], block):
        out[:, start:start + block] = engine.process(audio[:, start:start + block])
    return out


def _random_blocks(seed: int, max_block: int):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, max_block + 1))


def test_windows_multiply_to_a_short_hann_that_overlap_adds_to_one() -> None:
    n, m = 2048, 64
    analysis, synthesis = asymmetric_windows(n, m)
    product = analysis * synthesis
    assert np.all(product[: n - 2 * m] == 0.0)
    np.testing.assert_allclose(product[n - 2 * m:], periodic_hann(2 * m), atol=1e-15)
    ola = np.zeros(n + 8 * m)
    for start in range(0, 9 * m, m):
        ola[start:start + n] += product
    np.testing.assert_allclose(ola[n:n + 4 * m], 1.0, atol=1e-12)
    assert analysis.max() <= 1.0 and synthesis.max() <= 1.0 + 1e-12


@pytest.mark.parametrize("rate", RATES)
def test_taps_stay_one_trained_hop_apart_on_the_trained_bin_grid(synthetic_preset: Preset, rate: int) -> None:
    standard = make_geometry("standard", synthetic_preset, rate)
    low = make_geometry("low-latency", synthetic_preset, rate)
    assert low.n_fft == standard.n_fft
    assert low.tap_frames == TAP_FRAMES and low.ring == 2 * TAP_FRAMES + 1
    assert abs(low.tap_spacing - standard.hop) <= TAP_FRAMES / 2 + 1
    if rate == 44100:
        assert (low.hop, low.tap_spacing) == (64, 512)


def test_latency_targets_at_44k1(synthetic_preset: Preset) -> None:
    assert make_geometry("low-latency", _causal(synthetic_preset), 44100).latency_samples <= 0.005 * 44100
    assert make_geometry("low-latency", synthetic_preset, 44100).latency_samples <= 0.015 * 44100


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("block", [1, 7, 64, 333, 1000])
def test_impulses_arrive_exactly_the_reported_latency_later(any_preset: Preset, geometry: str, rate: int,
                                                           block: int) -> None:
    engine = CakEngine(any_preset, geometry=geometry)
    engine.prepare(rate, block, 1)
    engine.texture = 0.0
    latency = engine.latency_samples
    assert latency == make_geometry(geometry, any_preset, rate).latency_samples
    clicks = [0, 777, 5000, 5001, 9999]
    audio = np.zeros((1, 10000 + latency + 100), np.float32)
    audio[0, clicks] = [0.5, 1.0, -0.5, 0.25, -1.0]
    out = _through(engine, audio, block)
    assert list(np.flatnonzero(np.abs(out[0]) > 1e-3)) == [c + latency for c in clicks]
    assert np.abs(out[0, latency:] - audio[0, :-latency]).max() <= 1e-6


def test_low_latency_is_what_the_preset_allows(synthetic_preset: Preset) -> None:
    causal = _causal(synthetic_preset)
    for rate in RATES:
        low = make_geometry("low-latency", synthetic_preset, rate)
        low_causal = make_geometry("low-latency", causal, rate)
        assert low_causal.latency_samples == 2 * low.hop - 2
        assert low.latency_samples == low_causal.latency_samples + low.tap_spacing


def _signals(drums: np.ndarray) -> dict[str, np.ndarray]:
    t = np.arange(44100) / 44100
    return {"noise": np.random.default_rng(0).uniform(-1.0, 1.0, (2, 44100)).astype(np.float32),
            "sines": np.stack([np.sin(2 * np.pi * f * t) for f in (50.0, 997.0, 15000.0)]).astype(np.float32),
            "drums": drums[None, :]}


@pytest.mark.parametrize("rate", RATES)
def test_identity_at_zero_texture_in_every_geometry(any_preset: Preset, drums: np.ndarray, rate: int) -> None:
    for name, audio in _signals(drums).items():
        for geometry in GEOMETRIES:
            wet = render(audio, rate, any_preset, 0.0, geometry=geometry)
            assert np.abs(wet - audio).max() <= 1e-6, (name, geometry)


@pytest.mark.parametrize("n", [1, 10, 100, 2000])
def test_short_signals_keep_length_and_identity(synthetic_preset: Preset, n: int) -> None:
    audio = np.random.default_rng(n).uniform(-1, 1, (2, n)).astype(np.float32)
    wet = render(audio, 44100, synthetic_preset, 0.0, geometry="low-latency")
    assert wet.shape == audio.shape
    assert np.abs(wet - audio).max() <= 1e-6
    assert render(audio, 44100, synthetic_preset, 1.0, geometry="low-latency").shape == audio.shape


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("texture", [0.35, 0.8, 1.5])
@pytest.mark.parametrize("mode", ["gain", "reference"])
def test_random_blocks_equal_offline(any_preset: Preset, run_stream, channels: int, texture: float,
                                     mode: str) -> None:
    rng = np.random.default_rng(channels)
    n = 44100
    t = np.arange(n) / 44100
    audio = np.stack([0.5 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
                      + 0.2 * rng.standard_normal(n) for _ in range(channels)]).astype(np.float32)
    offline = render(audio, 44100, any_preset, texture, mode, level="off", soft_clip=False, geometry="low-latency")
    engine = CakEngine(any_preset, mode, geometry="low-latency")
    engine.prepare(44100, 700, channels)
    engine.texture = texture
    streamed = run_stream(engine, audio, _random_blocks(int(texture * 100) + channels, 700))
    assert streamed.shape == offline.shape == audio.shape
    assert np.abs(streamed - offline).max() <= 1e-5
    assert np.abs(offline - audio).max() > 1e-3


def test_texture_moves_mid_stream_equal_offline_automation(published_preset: Preset, run_stream) -> None:
    audio = np.random.default_rng(3).uniform(-0.5, 0.5, (1, 44100)).astype(np.float32)
    rng = np.random.default_rng(9)
    engine = CakEngine(published_preset, geometry="low-latency")
    engine.prepare(44100, 256, 1)
    moves: list[tuple[int, float]] = []

    def knob(start: int) -> None:
        if rng.random() < 0.3:
            engine.texture = float(rng.uniform(0.0, 2.0))
        moves.append((start, engine.texture))

    streamed = run_stream(engine, audio, _random_blocks(11, 256), on_block=knob)
    curve = np.empty(audio.shape[1])
    for (start, value), (stop, _) in zip(moves, moves[1:] + [(audio.shape[1], 0.0)]):
        curve[start:stop] = value
    offline = render(audio, 44100, published_preset, curve, level="off", soft_clip=False, geometry="low-latency")
    assert np.abs(streamed - offline).max() <= 1e-5


def test_unknown_geometry_is_refused(synthetic_preset: Preset) -> None:
    with pytest.raises(ValueError, match="low-latency"):
        CakEngine(synthetic_preset, geometry="lowest")
