"""Switching while the stream runs, on a real JACK server: Program Change crossfades between
presets of different latency, bypass fades to the dry signal; both checked sample for sample
against the offline render, so there is no click, comb or latency change to hide."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from cak_dsp import Preset, render
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, UNCLAMPED, PlayRecord
from .test_live_stream import _signal

pytestmark = pytest.mark.live

TEXTURE = 1.2


def _causal(preset: Preset) -> Preset:
    """The same kernel without its future column: no look-ahead, one hop less latency."""
    weight = preset.weight.copy()
    weight[:, 2] = 0.0
    return dataclasses.replace(preset, name=f"{preset.name}-causal", weight=weight)


def _take_with_action(io: PlayRecord, host: LiveHost, signal: np.ndarray, record: int,
                      action: Callable[[], None], after: float) -> tuple[np.ndarray, int]:
    """Play ``signal`` from a sample on the active engine's frame grid and run ``action`` (as a MIDI
    thread would) ``after`` seconds later. Returns the recording and the host sample at which the
    signal started. A take spoiled by an xrun is repeated after undoing the action."""
    hop = host.bank.geometry.hop
    for _ in range(4):
        start = {}

        def align() -> int:  # the active engine's frame grid starts where it was last reset
            offset = -(host.samples_processed - host.bank.last_switch_at) % hop
            start["at"] = host.samples_processed + offset
            return offset

        timer = threading.Timer(after, action)
        timer.start()
        try:
            recording = io.play(signal, record, align=align, takes=1, host_samples=lambda: host.samples_processed)
        except AssertionError:
            timer.join()
            _settle(host)
            continue
        timer.join()
        return recording, start["at"]
    raise AssertionError("every take had an xrun")


def _settle(host: LiveHost) -> None:
    """Undo a spoiled take's switch: back to program 0, bypass off, everything settled."""
    host.set_program(0)
    host.set_bypass(False)
    deadline = time.monotonic() + 5
    while (host.bank.switching or host.bank.active != 0 or host.mixer.bypass_amount > 0) and time.monotonic() < deadline:
        time.sleep(0.05)


def _click_ratio(x: np.ndarray, region: slice) -> float:
    """Largest second difference inside ``region`` relative to the largest anywhere else."""
    d2 = np.abs(np.diff(x, 2, axis=-1)).max(axis=0)
    inside = d2[region.start:region.stop].max()
    outside = max(d2[:region.start].max(), d2[region.stop:].max())
    return float(inside / outside)


def test_program_change_crossfades_between_latencies(jack_server, jack_io, synthetic_preset):
    """A switch from a look-ahead preset (2787 samples) to a causal one (2230) while the signal
    plays: the output is exactly the linear crossfade, starting once the incoming engine has
    warmed up, between the old preset's render and the new preset's render of the signal from
    the moment its engine was reset. Its stale state from an earlier switch leaves no trace and
    the latency stays the bank's largest."""
    jack_server.set_period(256)
    causal = _causal(synthetic_preset)
    assert causal.is_causal and not synthetic_preset.is_causal
    host = LiveHost(LiveConfig(preset=synthetic_preset, level="off", soft_clip=False, ceiling_db=UNCLAMPED, programs={0: synthetic_preset, 7: causal},
                               samplerate=RATE, channels=1, texture=TEXTURE))
    bank = host.bank
    latency = host.latency_samples
    assert latency == bank.engines[0].latency_samples == bank.engines[1].latency_samples + bank.geometry.hop
    signal = _signal(1, int(1.6 * RATE))
    noise = np.random.default_rng(5).normal(0, 0.3, (1, RATE // 2)).astype(np.float32)
    io = jack_io(1)
    with host:
        io.connect()
        host.set_program(7)  # leave stale audio in the causal engine, then come back
        io.play(noise, noise.shape[1], host_samples=lambda: host.samples_processed)
        _settle(host)
        assert bank.switches == 2
        recorded, start = _take_with_action(io, host, signal, signal.shape[1] + latency,
                                            lambda: host.set_program(7), after=0.45)
    assert bank.active == 1
    offset = bank.last_switch_at - start
    warm, fade = bank.warm_samples(1), bank.fade_samples
    assert 0 < offset and offset + latency + warm + fade < signal.shape[1] - latency, "switch outside the signal"
    old = render(signal, RATE, synthetic_preset, texture=TEXTURE, level="off", soft_clip=False)
    new = np.zeros_like(old)
    new[:, offset:] = render(signal[:, offset:], RATE, causal, texture=TEXTURE, level="off", soft_clip=False)
    g = np.clip((np.arange(signal.shape[1]) + start + latency - bank.last_switch_at - warm) / fade, 0.0, 1.0)
    expected = (1 - g) * old + g * new
    live = recorded[:, latency:]
    assert np.abs(old - new)[:, g == 1].max() > 0.05, "the two programs must sound different"
    error = np.abs(live - expected).max()
    fade_at = int(np.argmax(g > 0))
    ratio = _click_ratio(live, slice(fade_at - 1, fade_at + fade + 1))
    print(f"program change: reset at +{offset} samples, fade from +{fade_at} over {fade} samples; "
          f"max abs error vs offline crossfade {error:.2e}; largest second difference in the fade / elsewhere "
          f"{ratio:.2f}")
    assert error < 1e-5


def test_bypass_fades_to_the_aligned_dry_signal(jack_server, jack_io, synthetic_preset):
    """Bypass switched on mid-signal: a linear 20 ms fade from the (gained) wet render to the dry
    input at unity gain, with the same latency; exact to float rounding."""
    jack_server.set_period(256)
    gain = 0.5
    host = LiveHost(LiveConfig(preset=synthetic_preset, level="off", soft_clip=False, ceiling_db=UNCLAMPED, samplerate=RATE, channels=1,
                               texture=TEXTURE,
                               output_gain=gain, bypass_ms=20.0))
    latency = host.latency_samples
    signal = _signal(1, int(1.2 * RATE))
    io = jack_io(1)
    with host:
        io.connect()
        recorded, _ = _take_with_action(io, host, signal, signal.shape[1] + latency,
                                        lambda: host.set_bypass(True), after=0.5)
    live = recorded[:, latency:]
    wet = gain * render(signal, RATE, synthetic_preset, texture=TEXTURE, level="off", soft_clip=False)
    ramp = int(20.0e-3 * RATE)
    rough = int(np.argmax(np.abs(live - wet)[0] > 1e-4))
    best = None
    for k0 in range(max(rough - 600, 0), rough + 1):
        b = np.clip((np.arange(signal.shape[1]) - k0 + 1) / ramp, 0.0, 1.0)
        error = np.abs(live - ((1 - b) * wet + b * signal)).max()
        if best is None or error < best[0]:
            best = (error, k0)
    error, k0 = best
    print(f"bypass: fade starts at +{k0} samples, {ramp} samples long; max abs error vs linear fade {error:.2e}; "
          f"largest second difference in the fade / elsewhere {_click_ratio(live, slice(k0 - 1, k0 + ramp + 1)):.2f}")
    assert error < 1e-5
    assert np.abs(live[:, k0 + ramp:] - signal[:, k0 + ramp:]).max() < 1e-6, "bypassed: the dry signal, same latency"
