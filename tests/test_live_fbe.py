"""The filter-bank equalizer live on a real JACK server: at c = 0 an impulse comes back exactly its
reported latency later (0.7 ms causal, 12.3 ms with look-ahead at 48 kHz, plus the ports').

The equalizer is not a ``--geometry`` (docs/latency.md), so the live host's program bank is
given equalizers in place of its engines."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import cak_realtime.programs
from cak_dsp.fbe import FilterBankEqualizer
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, UNCLAMPED

pytestmark = pytest.mark.live


@pytest.mark.parametrize("causal", [False, True], ids=["look-ahead", "causal"])
def test_equalizer_round_trip(jack_server, jack_io, synthetic_preset, causal, monkeypatch):
    preset = synthetic_preset
    if causal:
        weight = preset.weight.copy()
        weight[:, 2] = 0.0
        preset = replace(preset, weight=weight)
    monkeypatch.setattr(cak_realtime.programs, "CakEngine",
                        lambda p, mode="gain", geometry="standard": FilterBankEqualizer(p, mode=mode))
    jack_server.set_period(64)
    host = LiveHost(LiveConfig(preset=preset, samplerate=RATE, ceiling_db=UNCLAMPED, texture=0.0, channels=1))
    assert isinstance(host.bank.engines[0], FilterBankEqualizer)
    assert host.latency_samples <= (0.003 if causal else 0.013) * RATE
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
    print(f"equalizer ({'causal' if causal else 'look-ahead'}): round trip {measured} samples, "
          f"engine {host.latency_samples} + JACK ports {io.port_latency()}; takes {takes}")
    assert measured == host.latency_samples + io.port_latency()
