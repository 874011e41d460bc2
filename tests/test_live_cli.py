"""``cak devices``, ``cak midi-ports`` and a scripted ``cak live --duration`` run on the JACK server."""
from __future__ import annotations

import re

from cak_dsp.cli import main


def test_devices_lists_jack(jack_server, capsys):
    assert main(["devices"]) == 0
    assert "JACK Audio Connection Kit" in capsys.readouterr().out


def test_live_runs_for_duration_and_summarizes(jack_server, capsys):
    assert main(["live", "--preset", "drums", "--samplerate", "48000", "--duration", "1", "--mix", "0.5",
                 "--output-gain", "-6", "--midi-virtual", "--midi-port", "cak-cli-knob", "--midi-api", "jack"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\d+ callbacks, \d+ xruns", err) and "callback time p50" in err
    assert "latency: engine 2785" in err


def test_live_errors_are_one_line(jack_server, capsys):
    assert main(["live", "--samplerate", "48000", "--input-device", "no-such-card", "--duration", "1"]) == 2
    assert main(["live", "--samplerate", "44100", "--duration", "1"]) == 2
    assert main(["live", "--samplerate", "48000", "--midi-port", "nope", "--midi-api", "jack", "--duration", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("cak: error: ") for line in lines), lines


def test_midi_ports_lists(jack_server, capsys):
    assert main(["midi-ports", "--midi-api", "jack"]) == 0
    assert capsys.readouterr().out
