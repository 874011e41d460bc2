"""The filter-bank equalizer (cak_dsp/fbe.py, docs/latency.md): exact latency within issue 13's
targets, the standard frames' gains, identity at c = 0, streaming == offline, sustained tones as
the standard render, click-free texture jumps."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import Chain, Preset, render
from cak_dsp.fbe import BLOCK, EqualizerStage, FilterBankEqualizer, equalizer_geometry, response_table
from cak_dsp.geometry import standard_geometry
from cak_dsp.presets import resolve_preset, shipped_presets

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


def render_fbe(audio: np.ndarray, rate: int, preset: Preset, texture: float | np.ndarray, mode: str = "gain",
               level: str = "off", soft_clip: bool = False) -> np.ndarray:
    """The equalizer's offline render (the stage in a chain, as ``render`` runs a Cak stage)."""
    stage = EqualizerStage(preset, 0.0, mode=mode, level=level, soft_clip=soft_clip)
    return Chain([stage])(audio, rate, texture=texture)


def _random_blocks(seed: int, max_block: int):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, max_block + 1))


@pytest.mark.parametrize("rate", RATES)
def test_latency_targets(synthetic_preset: Preset, rate: int) -> None:
    """Causal: at most 3 ms; a kernel that reads the next frame: one hop more, at most 13 ms."""
    causal = equalizer_geometry(_causal(synthetic_preset), rate)
    ahead = equalizer_geometry(synthetic_preset, rate)
    standard = standard_geometry(synthetic_preset, rate)
    assert causal.latency_samples == BLOCK - 1 <= 0.003 * rate
    assert ahead.latency_samples == causal.latency_samples + standard.hop <= 0.013 * rate
    assert (ahead.n_fft, ahead.hop, ahead.tap_spacing) == (standard.n_fft, standard.hop, standard.hop)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("block", [1, 7, 64, 333, 1000])
def test_impulses_arrive_exactly_the_reported_latency_later(any_preset: Preset, rate: int, block: int) -> None:
    engine = FilterBankEqualizer(any_preset)
    engine.prepare(rate, block, 1)
    engine.texture = 0.0
    latency = engine.latency_samples
    assert latency == equalizer_geometry(any_preset, rate).latency_samples
    clicks = [0, 777, 5000, 5001, 9999]
    audio = np.zeros((1, 10000 + latency + 100), np.float32)
    audio[0, clicks] = [0.5, 1.0, -0.5, 0.25, -1.0]
    out = np.zeros_like(audio)
    for start in range(0, audio.shape[1], block):
        out[:, start:start + block] = engine.process(audio[:, start:start + block])
    assert list(np.flatnonzero(np.abs(out[0]) > 1e-3)) == [c + latency for c in clicks]
    assert np.abs(out[0, latency:] - audio[0, :-latency]).max() <= 1e-6


def test_frame_gains_are_the_standard_engines(published_preset: Preset, drums: np.ndarray) -> None:
    """The same frames at the same samples: the equalizer's product is the standard engine's."""
    from cak_dsp import CakEngine

    standard = CakEngine(published_preset)
    equalizer = FilterBankEqualizer(published_preset)
    audio = drums[None, :20 * 512]
    for engine in (standard, equalizer):
        engine.prepare(44100, 512, 1)
        engine.texture = 1.2
    compared = 0
    for start in range(0, audio.shape[1], 512):
        standard.process(audio[:, start:start + 512])
        equalizer.process(audio[:, start:start + 512])
        if np.any(standard.frame_gains):
            np.testing.assert_array_equal(equalizer.frame_gains, standard.frame_gains)
            compared += 1
    assert compared >= 15
    np.testing.assert_allclose(equalizer.energies, standard.energies, rtol=1e-12)


@pytest.mark.parametrize("rate", RATES)
def test_identity_at_zero_texture(any_preset: Preset, drums: np.ndarray, rate: int) -> None:
    t = np.arange(44100) / 44100
    signals = {"noise": np.random.default_rng(0).uniform(-1.0, 1.0, (2, 44100)).astype(np.float32),
               "sines": np.stack([np.sin(2 * np.pi * f * t) for f in (50.0, 997.0, 15000.0)]).astype(np.float32),
               "drums": drums[None, :]}
    for name, audio in signals.items():
        for level in ("match", "follow", "off"):
            wet = render_fbe(audio, rate, any_preset, 0.0, level=level, soft_clip=True)
            assert np.abs(wet - audio).max() <= 1e-6, (name, level)


@pytest.mark.parametrize("n", [1, 10, 100, 2000])
def test_short_signals_keep_length_and_identity(synthetic_preset: Preset, n: int) -> None:
    audio = np.random.default_rng(n).uniform(-1, 1, (2, n)).astype(np.float32)
    assert np.abs(render_fbe(audio, 44100, synthetic_preset, 0.0) - audio).max() <= 1e-6
    assert render_fbe(audio, 44100, synthetic_preset, 1.0).shape == audio.shape


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("texture", [0.35, 1.5])
@pytest.mark.parametrize("mode", ["gain", "reference"])
def test_random_blocks_equal_offline(any_preset: Preset, run_stream, channels: int, texture: float,
                                     mode: str) -> None:
    rng = np.random.default_rng(channels)
    n = 44100
    t = np.arange(n) / 44100
    audio = np.stack([0.5 * np.sin(2 * np.pi * 330 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
                      + 0.2 * rng.standard_normal(n) for _ in range(channels)]).astype(np.float32)
    offline = render_fbe(audio, 44100, any_preset, texture, mode)
    engine = FilterBankEqualizer(any_preset, mode)
    engine.prepare(44100, 700, channels)
    engine.texture = texture
    streamed = run_stream(engine, audio, _random_blocks(int(texture * 100) + channels, 700))
    assert streamed.shape == offline.shape == audio.shape
    assert np.abs(streamed - offline).max() <= 1e-5
    assert np.abs(offline - audio).max() > 1e-3


def test_channels_are_independent(synthetic_preset: Preset) -> None:
    """Each channel of a stereo render is the mono render of that channel."""
    audio = np.random.default_rng(4).uniform(-0.5, 0.5, (2, 30000)).astype(np.float32)
    stereo = render_fbe(audio, 48000, synthetic_preset, 1.1)
    for ch in range(2):
        np.testing.assert_array_equal(stereo[ch], render_fbe(audio[ch], 48000, synthetic_preset, 1.1))


def test_texture_moves_mid_stream_equal_offline_automation(published_preset: Preset, run_stream) -> None:
    audio = np.random.default_rng(3).uniform(-0.5, 0.5, (1, 44100)).astype(np.float32)
    rng = np.random.default_rng(9)
    engine = FilterBankEqualizer(published_preset)
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
    assert np.abs(streamed - render_fbe(audio, 44100, published_preset, curve)).max() <= 1e-5


def _curvature(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x, 2)).max())


def test_texture_jumps_are_click_free(published_preset: Preset) -> None:
    """As tests/test_texture_changes.py: 0 <-> 1.5 every 125 ms, 64-sample blocks."""
    rate = 44100
    t = np.arange(2 * rate) / rate
    chord = (0.05 * np.sin(2 * np.pi * 440 * t) + 0.03 * np.sin(2 * np.pi * 660 * t + 1.0)).astype(np.float32)[None]
    outputs = {}
    for name, schedule in {"low": lambda i: 0.0, "high": lambda i: 1.5,
                           "jumps": lambda i: 1.5 if (i // 5512) % 2 else 0.0}.items():
        engine = FilterBankEqualizer(published_preset)
        engine.prepare(rate, 64, 1)
        out = []
        for start in range(0, chord.shape[1], 64):
            engine.texture = schedule(start)
            out.append(engine.process(chord[:, start:start + 64]).copy())
        outputs[name] = np.concatenate(out, axis=1)[0, engine.latency_samples + 4096:]
    assert np.abs(outputs["high"] - outputs["low"]).max() > 0.005
    steady = max(_curvature(outputs["low"]), _curvature(outputs["high"]))
    assert _curvature(outputs["jumps"]) <= 1.25 * steady


@pytest.mark.slow
@pytest.mark.parametrize("rate", RATES)
def test_sustained_tones_as_the_standard_render(rate: int) -> None:
    """Five equal tones (220 Hz-5 kHz) at c = 1, every shipped preset (the published kernel
    included): each within 0.3 dB of the standard render, everything else >= 60 dB below
    (``benchmarks/low_latency.py`` prints the figures beside the low-latency geometry's)."""
    pytest.importorskip("scipy")
    from benchmarks.low_latency import TONES, tone_levels, tone_signal

    freqs, tones = TONES, tone_signal(rate)
    for name in shipped_presets():
        preset = resolve_preset(name)
        standard, _ = tone_levels(render(tones, rate, preset, 1.0, level="off", soft_clip=False), freqs, rate)
        levels, rest = tone_levels(render_fbe(tones, rate, preset, 1.0), freqs, rate)
        assert np.abs(levels - standard).max() <= 0.3, (name, levels - standard)
        assert rest <= levels.min() - 60.0, (name, rest - levels.min())


def test_response_table_reproduces_constant_gains() -> None:
    for n, size in [(2048, 4096), (2232, 4480)]:
        first, weights = response_table(n, size)
        assert weights.shape == (size // 2 + 1, 16) and np.allclose(weights.sum(axis=1), 1.0)
        assert first.min() >= 0 and first.max() + 16 <= n // 2 + 1 + 32
