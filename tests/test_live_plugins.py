"""Plugin chains live on JACK against the offline renderer: real VST3s with a reported latency,
and a MIDI CC moving a built-in's parameter live against the same CC in a MIDI file."""
from __future__ import annotations

import json
import math
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from cak_dsp import Cak, Chain, load_chain
from cak_cli import main
from cak_dsp.control_files import bind_midi_map
from cak_dsp.controls import CONTROL_BLOCK
from cak_realtime.midi import MidiControl
from cak_realtime.midimap import load_midi_map
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, UNCLAMPED, fresh_start, wait_until
from .midi_sender import MidiSender
from .test_controls import midi_file
from .test_live_stream import _signal
from .test_plugins import _lag

# vst3: run apart from the other live tests (make test); after some MIDI tests of test_live_midi (learn,
# virtual port, a vanishing port) in the same process, the CC test below mismatches (see the session note)
pytestmark = [pytest.mark.live, pytest.mark.vst3]

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
        {"type": "cak", "preset": "synthetic.json", "texture": 1.2, "level": "follow"},
        {"type": "plugin", "path": str(plugins_dir / "d_latency.vst3")}])
    signal = _signal(2, int(1.5 * RATE))
    sf.write(tmp_path / "in.wav", signal.T, RATE, subtype="FLOAT")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain_file),
                 "-q"]) == 0
    rendered = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T

    host = LiveHost(LiveConfig(preset=None, chain=load_chain(chain_file), samplerate=RATE, channels=2, texture=1.2,
                               ceiling_db=UNCLAMPED))
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
                           align=lambda: -(host.samples_processed - host.reset_at) % hop,
                           host_samples=lambda: host.samples_processed, before_take=fresh_start(host))
    live = recorded[:, latency:]
    error = np.abs(live - rendered).max()
    lags = [_lag(live[ch], signal[ch]) for ch in range(2)]
    print(f"live [d_parameters, CAK, d_latency x2] vs cak render --chain: latency {latency} "
          f"(CAK {cak.latency_samples} + {RATE}), max abs error {error:.2e}, cross-correlation lags {lags}")
    assert np.abs(rendered - signal).max() > 0.05, "the chain must change the signal"
    assert lags == [0, 0]
    assert error <= 1e-5


@pytest.fixture
def knobs(jack_server):
    """A JACK MIDI output (a second rtmidi client, in a process of its own: tests/midi_sender.py)
    with a port named 'plugin-knobs'."""
    out = MidiSender("plugin-knobs")
    yield out
    out.close()


@pytest.mark.timeout(240)
def test_midi_cc_on_a_builtin_parameter_live_equals_the_midi_file_offline(jack_server, jack_io, synthetic_preset,
                                                                          knobs, tmp_path):
    """CC 20 moves the HighpassFilter's cutoff (mapping file: range 100..3000 Hz, curve 2, 20 ms
    glide) while a signal plays through [HighpassFilter, CAK] on JACK. The host logs the sample
    at which it took each value; a MIDI file with the same CC values at those times, rendered
    with ``cak render --midi-map --automation``, equals the live output (latency removed)."""
    jack_server.set_period(256)
    synthetic_preset.save(tmp_path / "synthetic.json")
    chain_file = _write_chain(tmp_path / "chain.json", [
        {"type": "HighpassFilter", "name": "hp", "cutoff_frequency_hz": 100},
        {"type": "cak", "preset": "synthetic.json", "texture": 0.8, "level": "follow"}])
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps({"controls": [
        {"target": "hp.cutoff_frequency_hz", "cc": 20, "range": [100, 3000], "curve": 2}]}))
    signal = _signal(2, int(1.5 * RATE))
    sent = {20: 1, 100: int(0.35 * RATE), 45: int(0.9 * RATE)}  # CC value -> when (samples into the signal)
    midi_map = load_midi_map(map_file)
    chain = load_chain(chain_file)
    control = bind_midi_map(chain, midi_map.controls, map_file).controls[0]
    cc_of = {100 + 2900 * (value / 127) ** 2: value for value in sent}
    host = LiveHost(LiveConfig(preset=None, chain=chain, samplerate=RATE, channels=2, texture=0.8,
                               ceiling_db=UNCLAMPED))
    latency, grid = host.latency_samples, math.lcm(host.bank.geometry.hop, CONTROL_BLOCK)
    io = jack_io(2)
    start: dict[str, int] = {}

    def align() -> int:
        offset = -(host.samples_processed - host.reset_at) % grid
        start["at"] = host.samples_processed + offset
        return offset

    problems: list[str] = []

    def perform() -> None:
        if not wait_until(lambda: "at" in start, 10, poll=0.005):
            problems.append("the take did not start within 10 s")
            return
        for value, when in list(sent.items())[1:]:
            if not wait_until(lambda: host.samples_processed >= start["at"] + when, 10, poll=0.005):
                problems.append(f"the host did not reach sample {when} of the take within 10 s")
            knobs.send_message([0xB0, 20, value])

    with MidiControl(midi_map.controls, host.setters(), port="plugin-knobs", api="jack"), host:
        io.connect()
        for attempt in range(6):
            # each take starts from a reset host, as the render starts: the follower and the filter
            # forget the take before, the controls' value and grid start again
            fresh_start(host)()
            knobs.send_message([0xB0, 20, 20])
            assert wait_until(lambda: control.value == control.target == pytest.approx(100 + 2900 * (20 / 127) ** 2), poll=0.005)
            start.clear()
            performer = threading.Thread(target=perform)
            performer.start()
            try:
                recorded = io.play(signal, signal.shape[1] + latency, align=align, takes=1,
                                   host_samples=lambda: host.samples_processed)
                break
            except AssertionError:  # JACK reported an xrun: perform the whole take again
                continue
            finally:
                performer.join()
        else:
            pytest.fail("JACK reported xruns in every take")
    assert not problems, problems
    s0 = start["at"] - host.reset_at  # the controls count samples from the reset
    changes = control.changes()
    before = [value for pos, value in changes if pos < s0]
    during = [(pos - s0, value) for pos, value in changes if pos >= s0]

    def cc(value: float) -> int:
        return cc_of[min(cc_of, key=lambda known: abs(known - value))]

    events = [(0, 20, cc(before[-1]))] + [(pos, 20, cc(value)) for pos, value in during]
    assert [e[2] for e in events] == [20, 100, 45], events
    take = midi_file(tmp_path / "take.mid", events)
    sf.write(tmp_path / "in.wav", signal.T, RATE, subtype="FLOAT")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain_file),
                 "--midi-map", str(map_file), "--automation", str(take), "-q"]) == 0
    rendered = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)[0].T
    static = load_chain(chain_file)(signal, RATE)
    live = recorded[:, latency:]
    error = np.abs(live - rendered).max()
    print(f"CC 20 taken live at samples {[pos for pos, _ in during]} of the signal (control block "
          f"{CONTROL_BLOCK}); live vs cak render --midi-map: max abs error {error:.2e}; "
          f"the CC changed the output by {np.abs(rendered - static).max():.2f}")
    assert all(pos % CONTROL_BLOCK == 0 for pos, _ in during), during
    assert np.abs(rendered - static).max() > 0.05, "the CC must change the sound"
    assert error <= 1e-5, (f"live differs from offline by {error:.2e} at sample "
                           f"{int(np.argmax(np.abs(live - rendered).max(axis=0)))}; events {events}, s0 {s0}")


def test_cak_live_binds_stage_parameters_and_saves_the_chain(jack_server, plugins_dir, tmp_path, capsys):
    """cak live --chain --midi-map binds a VST3 parameter target, and --save-chain writes the chain
    with the plugin's state when the run ends; the saved chain loads and keeps the plugin's values."""
    chain_file = _write_chain(tmp_path / "chain.json", [
        {"type": "HighpassFilter", "name": "hp", "cutoff_frequency_hz": 90},
        {"type": "cak", "preset": "drums", "texture": 0.5},
        {"type": "plugin", "name": "grid", "path": str(plugins_dir / "d_parameters.vst3"),
         "parameters": {"middle_center": 1}}])
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps({"controls": [{"target": "grid.top_left", "cc": 21},
                                                 {"target": "stage 1.cutoff_frequency_hz", "cc": 22,
                                                  "range": [40, 400]}]}))
    assert main(["live", "--samplerate", "48000", "--duration", "1", "--chain", str(chain_file), "--midi-virtual",
                 "--midi-port", "cak-plugin-map", "--midi-api", "jack", "--midi-map", str(map_file),
                 "--save-chain", str(tmp_path / "saved.json"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "grid.top_left <- CC 21, stage 1.cutoff_frequency_hz <- CC 22" in err, err
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert saved["stages"][0] == {"type": "HighpassFilter", "name": "hp", "cutoff_frequency_hz": 90.0}
    assert load_chain(tmp_path / "saved.json").stages[2].plugin.middle_center == 1.0
