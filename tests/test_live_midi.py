"""MIDI control over real JACK MIDI: a second rtmidi client sends CCs to the host's input port."""
from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import rtmidi

from realtime.midi import CCMapping, MidiControl, MidiError, list_ports
from realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def sender(jack_server):
    """A JACK MIDI output (a second rtmidi client) with a port named 'knobs'."""
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="cak-test-sender")
    out.open_virtual_port("knobs")
    yield out
    out.close_port()
    out.delete()


@pytest.fixture
def host(jack_server, synthetic_preset):
    return LiveHost(LiveConfig(preset=synthetic_preset, samplerate=RATE, channels=1, texture=0.0))


def test_cc_moves_texture_with_range_and_curve(host, sender):
    knob = CCMapping(cc=74, channel=2, low=0.0, high=1.5, curve=2.0)
    with MidiControl(knob, host.set_texture, port="knobs", api="jack") as midi:
        assert midi.port_name == "cak-test-sender:knobs"
        sender.send_message([0xB1, 74, 127])
        assert _wait(lambda: host.texture_target == pytest.approx(1.5))
        sender.send_message([0xB1, 74, 64])
        assert _wait(lambda: host.texture_target == pytest.approx(1.5 * (64 / 127) ** 2))
        before = midi.events
        for junk in ([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7], [0xB2, 74, 0], [0xB1, 75, 0], [0x91, 60, 100],
                     [0xF8], [0xB1, 74]):
            sender.send_message(junk)
        sender.send_message([0xB1, 74, 0])
        assert _wait(lambda: host.texture_target == 0.0)
        assert midi.events == before + 1, "SysEx, clock, notes, other channels/controllers must be ignored"


def test_fourteen_bit_pair(host, sender):
    knob = CCMapping(cc=1, low=0.0, high=2.0, fine=True)
    with MidiControl(knob, host.set_texture, port="knobs", api="jack"):
        sender.send_message([0xB0, 1, 64])
        sender.send_message([0xB0, 33, 1])
        assert _wait(lambda: host.texture_target == pytest.approx(2.0 * ((64 << 7) | 1) / 16383))


def test_learn_binds_first_cc(host, sender):
    knob = CCMapping(cc=None)
    with MidiControl(knob, host.set_texture, port="knobs", api="jack", learn=True) as midi:
        sender.send_message([0xB4, 21, 127])
        assert _wait(lambda: knob.cc == 21)
        assert knob.channel == 5 and not midi.learning
        assert host.texture_target == pytest.approx(1.5)
        sender.send_message([0xB4, 22, 0])
        sender.send_message([0xB4, 21, 0])
        assert _wait(lambda: host.texture_target == 0.0)


def test_virtual_port_and_listing(host, sender, jack_server):
    with MidiControl(CCMapping(cc=7), host.set_texture, port="cak-in", api="jack", virtual=True):
        assert any("cak-in" in name for name in rtmidi.MidiOut(rtmidi.API_UNIX_JACK).get_ports())
    assert any("knobs" in name for name in list_ports("jack"))
    with pytest.raises(MidiError, match="no MIDI input port matching 'nothing-here'"):
        MidiControl(CCMapping(), host.set_texture, port="nothing-here", api="jack").start()


def test_vanished_port_is_reported_and_reopened(host, jack_server):
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="cak-test-flaky")
    out.open_virtual_port("flaky")
    with MidiControl(CCMapping(cc=10), host.set_texture, port="flaky", api="jack", watch_interval=0.05) as midi:
        out.close_port()
        out.delete()
        assert _wait(lambda: midi.lost)
        out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="cak-test-flaky")
        out.open_virtual_port("flaky")
        assert _wait(lambda: not midi.lost)
        out.send_message([0xB0, 10, 127])
        assert _wait(lambda: host.texture_target == pytest.approx(1.5))
    out.close_port()
    out.delete()


def test_cc_changes_the_audio(host, sender, jack_io):
    """c = 0 (CC at 0) passes noise unchanged; after CC 127 (c = 1.5) the output differs."""
    noise = np.random.default_rng(3).normal(0, 0.3, (1, RATE // 2)).astype(np.float32)
    latency = host.engine.latency_samples
    io = jack_io(1)
    # MIDI first, as `cak live` does: rtmidi activates its JACK client without releasing the GIL,
    # which deadlocks against a running stream whose Python callback needs the GIL.
    with MidiControl(CCMapping(cc=74), host.set_texture, port="knobs", api="jack"), host:
        io.connect()
        sender.send_message([0xB0, 74, 0])
        assert _wait(lambda: host.texture == 0.0)
        dry = io.play(noise, noise.shape[1] + latency, host_samples=lambda: host.samples_processed)[:, latency:]
        sender.send_message([0xB0, 74, 127])
        assert _wait(lambda: host.texture == pytest.approx(1.5))
        wet = io.play(noise, noise.shape[1] + latency, host_samples=lambda: host.samples_processed)[:, latency:]
    assert np.abs(dry - noise).max() < 1e-5
    assert np.abs(wet - noise).max() > 0.05
