"""The live host on a real JACK server: live output equals offline render, latency to the sample.

The player and recorder clients run in the same JACK cycle as the host (see ``PlayRecord``),
so the recording is the host's output with no transport delay of its own.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from cak_dsp import render
from cak_realtime.devices import LiveError
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, UNCLAMPED, fresh_start

pytestmark = pytest.mark.live

SECONDS = 1.5


def _signal(channels: int, n: int, silence: int = 4096) -> np.ndarray:
    """Drum-like test material: decaying noise bursts over two sines, different per channel,
    with ``silence`` zeros at both ends (more than a frame, so ``render`` treating the first and
    last samples as the edges of the stream makes no difference)."""
    rng = np.random.default_rng(7)
    t = np.arange(n) / RATE
    out = np.zeros((channels, n), np.float32)
    for ch in range(channels):
        bursts = rng.normal(0, 0.5, n) * np.exp(-((t * (4 + ch)) % 1.0) * 12)
        out[ch] = bursts + 0.2 * np.sin(2 * np.pi * (220 + 110 * ch) * t) + 0.1 * np.sin(2 * np.pi * 3150 * t)
    out[:, :silence] = 0
    out[:, n - silence:] = 0
    return out


def _host(preset, **kw) -> LiveHost:
    return LiveHost(LiveConfig(preset=preset, samplerate=RATE, **{"ceiling_db": UNCLAMPED, **kw}))


@pytest.mark.parametrize("mix, gain", [(1.0, 1.0), (0.4, 0.5)])
def test_live_equals_offline(jack_server, jack_io, synthetic_preset, mix, gain):
    """Stereo, c = 1.2: live output == render() (wet) mixed with the latency-delayed dry input.

    The STFT is not shift-invariant, so the signal is started on the engine's frame grid
    (a multiple of the hop after the stream's first sample), as ``render`` starts it.
    """
    jack_server.set_period(256)
    signal = _signal(2, int(SECONDS * RATE))
    host = _host(synthetic_preset, texture=1.2, channels=2, mix=mix, output_gain=gain)
    latency, hop = host.latency_samples, host.bank.geometry.hop
    io = jack_io(2)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + latency, align=lambda: -(host.samples_processed - host.reset_at) % hop,
                           host_samples=lambda: host.samples_processed, before_take=fresh_start(host))
    live = recorded[:, latency:]
    wet = render(signal, RATE, synthetic_preset, texture=1.2, level="follow")  # live's default level
    expected = gain * (mix * wet + (1 - mix) * signal)
    assert np.abs(wet - signal).max() > 0.05, "the effect must actually change the signal"
    error = np.abs(live - expected).max()
    print(f"live vs offline (mix {mix}, gain {gain}): max abs error {error:.2e}")
    assert error < 1e-5


def test_a_reset_host_plays_the_next_take_as_a_fresh_render(jack_server, jack_io, synthetic_preset):
    """The level follower remembers a take for seconds: a second take played straight after the
    first differs from the offline render; after ``request_reset`` it equals it again (what the
    tests' repeated takes rely on, and the studio's Play)."""
    jack_server.set_period(256)
    signal = _signal(2, int(SECONDS * RATE))
    host = _host(synthetic_preset, texture=1.2, channels=2)
    latency, hop = host.latency_samples, host.bank.geometry.hop
    wet = render(signal, RATE, synthetic_preset, texture=1.2, level="follow")
    io = jack_io(2)

    def aligned() -> int:
        return -(host.samples_processed - host.reset_at) % hop

    with host:
        io.connect()
        first = io.play(signal, signal.shape[1] + latency, align=aligned, host_samples=lambda: host.samples_processed,
                        before_take=fresh_start(host))
        remembered = io.play(signal, signal.shape[1] + latency, align=aligned,
                             host_samples=lambda: host.samples_processed)
        fresh = io.play(signal, signal.shape[1] + latency, align=aligned, host_samples=lambda: host.samples_processed,
                        before_take=fresh_start(host))
    errors = [np.abs(take[:, latency:] - wet).max() for take in (first, remembered, fresh)]
    print(f"max abs error against the render: first take {errors[0]:.2e}, the next without a reset "
          f"{errors[1]:.2e}, after a reset {errors[2]:.2e}")
    assert errors[0] < 1e-5 and errors[2] < 1e-5
    assert errors[1] > 1e-3, "the follower should remember the take before"


def test_live_output_never_exceeds_the_ceiling(jack_server, jack_io, synthetic_preset):
    """The raw published level (+15 dB and more), NaN and infinity in the input, output gain
    +6 dB: what reaches the JACK ports is finite and within the default 0 dBFS ceiling."""
    jack_server.set_period(256)
    signal = 0.9 * _signal(2, int(SECONDS * RATE))
    signal[:, RATE // 2:RATE // 2 + 50] = np.nan
    signal[1, RATE] = np.inf
    host = LiveHost(LiveConfig(preset=synthetic_preset, samplerate=RATE, channels=2, texture=1.5, level="off",
                               soft_clip=False, output_gain=2.0))
    io = jack_io(2)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + host.latency_samples,
                           host_samples=lambda: host.samples_processed)
    assert np.all(np.isfinite(recorded))
    assert np.abs(recorded).max() <= 1.0
    assert np.abs(recorded).max() > 0.99, "the test must drive the output into the ceiling"


@pytest.mark.parametrize("block", [64, 256, 1024])
@pytest.mark.parametrize("fixed", [False, True], ids=["driver-block", "fixed-block"])
def test_round_trip_latency_at_identity(jack_server, jack_io, synthetic_preset, block, fixed):
    """At c = 0 an impulse comes back unchanged, exactly engine latency + JACK port latency later.

    With ``blocksize=0`` the callback runs on JACK's period directly. Asking PortAudio for a fixed
    block (even one equal to the period) puts its buffer adapter in the path: exactly one more block.
    The round trip is the median of three takes: on a loaded machine a single take can be
    misaligned by a dropout that neither JACK nor the clients report, while a real latency error
    would shift every take.
    """
    jack_server.set_period(block)
    host = _host(synthetic_preset, texture=0.0, channels=1, blocksize=block if fixed else 0)
    io = jack_io(1)
    impulse = np.zeros((1, 3 * block + 7), np.float32)
    impulse[0, 3 * block + 3] = 0.5
    takes = []
    with host:
        io.connect()
        for _ in range(3):
            recorded = io.play(impulse, impulse.shape[1] + host.latency_samples + 2 * block,
                               host_samples=lambda: host.samples_processed)
            takes.append((int(np.argmax(np.abs(recorded[0]))) - (3 * block + 3), recorded))
    measured = sorted(m for m, _ in takes)[1]
    recorded = next(r for m, r in takes if m == measured)
    adapter = block if fixed else 0
    print(f"block {block} ({'fixed' if fixed else 'driver'}): measured round trip {measured} samples = engine "
          f"{host.latency_samples} + JACK ports {io.port_latency()} + PortAudio adapter {adapter}; "
          f"takes {[m for m, _ in takes]}; PortAudio reports (in, out) {host.stream_latency_samples}")
    assert measured == host.latency_samples + io.port_latency() + adapter
    assert recorded[0, measured + 3 * block + 3] == pytest.approx(0.5, abs=1e-6)
    recorded[0, measured + 3 * block + 3] = 0
    assert np.abs(recorded).max() < 1e-6, "c = 0 must be the identity"


@pytest.mark.parametrize("causal", [False, True], ids=["look-ahead", "causal"])
def test_low_latency_geometry_round_trip(jack_server, jack_io, synthetic_preset, causal):
    """The low-latency geometry live: at c = 0 an impulse comes back exactly its (much shorter)
    reported latency later, and the output equals the offline render in that geometry."""
    preset = synthetic_preset
    if causal:
        weight = preset.weight.copy()
        weight[:, 2] = 0.0
        preset = replace(preset, weight=weight)
    jack_server.set_period(64)
    host = _host(preset, texture=0.0, channels=1, geometry="low-latency")
    assert host.latency_samples < 700 and (host.latency_samples < 150) == causal
    io = jack_io(1)
    impulse = np.zeros((1, 199), np.float32)
    impulse[0, 195] = 0.5
    takes = []
    with host:
        io.connect()
        for _ in range(3):
            recorded = io.play(impulse, impulse.shape[1] + host.latency_samples + 128,
                               host_samples=lambda: host.samples_processed)
            takes.append(int(np.argmax(np.abs(recorded[0]))) - 195)
    measured = sorted(takes)[1]
    print(f"low-latency ({'causal' if causal else 'look-ahead'}): round trip {measured} samples, "
          f"engine {host.latency_samples} + JACK ports {io.port_latency()}; takes {takes}")
    assert measured == host.latency_samples + io.port_latency()


def test_input_channels_pick_device_inputs(jack_server, jack_io, synthetic_preset):
    """``input_channels=(4, 2)``: four device inputs are opened, device input 4 feeds processed
    channel 1 and input 2 feeds channel 2 (c = 0: each comes out exactly, latency later)."""
    jack_server.set_period(256)
    signal = _signal(4, RATE // 2)
    host = _host(synthetic_preset, texture=0.0, channels=2, input_channels=(4, 2))
    assert host.device_inputs == 4
    latency = host.latency_samples
    io = jack_io(4)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + latency, host_samples=lambda: host.samples_processed)
    live = recorded[:, latency:]
    assert np.abs(live[0] - signal[3]).max() < 1e-6 and np.abs(live[1] - signal[1]).max() < 1e-6
    assert np.abs(signal[3] - signal[0]).max() > 0.1, "the channels must differ"
    with pytest.raises(LiveError, match="input device .* has 4 channel.*, 5 needed"):
        _host(synthetic_preset, channels=2, input_channels=(5, 1))
    with pytest.raises(ValueError, match="2 input channel"):
        _host(synthetic_preset, channels=1, input_channels=(1, 2))


def test_texture_glides_to_target(jack_server, synthetic_preset):
    host = _host(synthetic_preset, texture=0.0, channels=1, smoothing_ms=20)
    with host:
        host.texture = 1.5
        assert host.texture_target == 1.5
        time.sleep(0.3)
        assert host.texture == 1.5
        host.texture = 99
        assert host.texture_target == 2.0


def test_clear_errors(jack_server, synthetic_preset):
    with pytest.raises(LiveError, match="no input device 'no-such-card'"):
        _host(synthetic_preset, input_device="no-such-card")
    with pytest.raises(LiveError, match="has 4 channel"):
        _host(synthetic_preset, channels=8)
    with pytest.raises(LiveError, match="cannot run 2 channel.* at 44100 Hz"):
        LiveHost(LiveConfig(preset=synthetic_preset, samplerate=44100, channels=2))
