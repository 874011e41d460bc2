"""Plugin chains live on JACK against the offline renderer: real VST3s with a reported latency."""
from __future__ import annotations

import json

import numpy as np
import soundfile as sf

from cak_dsp import Cak, Chain, load_chain
from cak_dsp.cli import main
from realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE
from .test_live_stream import _signal
from .test_plugins import _lag


def _write_chain(path, stages):
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    return path


def test_live_real_plugins_equal_cak_render(jack_server, jack_io, synthetic_preset, plugins_dir, tmp_path):
    """[d_parameters, CAK, d_latency per channel], stereo: the host reports the CAK latency plus
    the plugin's 1 s, and its output, that latency removed, equals ``cak render --chain``."""
    jack_server.set_period(256)
    synthetic_preset.save(tmp_path / "synthetic.json")
    chain_file = _write_chain(tmp_path / "chain.json", [
        {"type": "plugin", "path": str(plugins_dir / "d_parameters.vst3"), "parameters": {"top_left": 1}},
        {"type": "cak", "preset": "synthetic.json", "texture": 1.2},
        {"type": "plugin", "path": str(plugins_dir / "d_latency.vst3")}])
    signal = _signal(2, int(1.5 * RATE))
    sf.write(tmp_path / "in.wav", signal.T, RATE, subtype="FLOAT")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain_file),
                 "-q"]) == 0
    rendered = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T

    host = LiveHost(LiveConfig(preset=None, chain=load_chain(chain_file), samplerate=RATE, channels=2, texture=1.2))
    cak = Chain([Cak(synthetic_preset)])
    cak.prepare(RATE, 256, 2)
    delay = host.processor.stages[2]
    latency, hop = host.latency_samples, host.bank.geometry.hop
    assert delay.latency_samples == delay.plugin.reported_latency_samples == RATE
    assert latency == cak.latency_samples + RATE == host.mixer.delay_samples
    io = jack_io(2)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + latency,
                           align=lambda: -(host.samples_processed - host.bank.last_switch_at) % hop,
                           host_samples=lambda: host.samples_processed)
    live = recorded[:, latency:]
    error = np.abs(live - rendered).max()
    lags = [_lag(live[ch], signal[ch]) for ch in range(2)]
    print(f"live [d_parameters, CAK, d_latency x2] vs cak render --chain: latency {latency} "
          f"(CAK {cak.latency_samples} + {RATE}), max abs error {error:.2e}, cross-correlation lags {lags}")
    assert np.abs(rendered - signal).max() > 0.05, "the chain must change the signal"
    assert lags == [0, 0]
    assert error <= 1e-5

