"""``cak live --chain``: the same chain file live on JACK and through ``cak render --chain``."""
from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from cak_dsp import load_chain
from cak_cli import main
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, UNCLAMPED, fresh_start
from .test_live_stream import _signal

pytestmark = pytest.mark.live

TEXTURE = 1.2


def test_live_chain_equals_cak_render_chain(jack_server, jack_io, synthetic_preset, tmp_path):
    """HighpassFilter -> CAK -> Compressor, stereo, mix 0.5: the live output, latency removed,
    equals ``cak render --chain`` of the same signal mixed with the dry input; the dry path is
    delayed by the chain's total latency."""
    jack_server.set_period(256)
    synthetic_preset.save(tmp_path / "synthetic.json")
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": [
        {"type": "HighpassFilter", "cutoff_frequency_hz": 120},
        {"type": "cak", "preset": "synthetic.json", "texture": TEXTURE},
        {"type": "Compressor", "threshold_db": -20, "ratio": 4}]}))
    signal = _signal(2, int(1.5 * RATE))
    sf.write(tmp_path / "in.wav", signal.T, RATE, subtype="FLOAT")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain_file),
                 "--texture", str(TEXTURE), "--level", "follow", "-q"]) == 0
    rendered = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T

    host = LiveHost(LiveConfig(preset=None, chain=load_chain(chain_file), samplerate=RATE, channels=2, ceiling_db=UNCLAMPED,
                               texture=TEXTURE, mix=0.5))
    latency, hop = host.latency_samples, host.bank.geometry.hop
    assert latency == sum(stage.latency_samples for stage in host.processor.stages) == host.mixer.delay_samples
    io = jack_io(2)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + latency,
                           align=lambda: -(host.samples_processed - host.reset_at) % hop,
                           host_samples=lambda: host.samples_processed, before_take=fresh_start(host))
    live = recorded[:, latency:]
    expected = 0.5 * rendered + 0.5 * signal
    assert np.abs(rendered - signal).max() > 0.05, "the chain must change the signal"
    error = np.abs(live - expected).max()
    print(f"live chain vs cak render --chain (mix 0.5): latency {latency}, max abs error {error:.2e}")
    assert error < 1e-5
