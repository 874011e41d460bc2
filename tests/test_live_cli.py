"""``cak devices``, ``cak midi-ports``, scripted ``cak live --duration`` runs on the JACK server,
mapping-file and flag errors, and a JACK server that dies under ``cak live``."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from cak_cli import main
from .jack_harness import jackd_command
from .midi_sender import MidiSender

pytestmark = pytest.mark.live


def test_devices_lists_jack(jack_server, capsys):
    assert main(["devices"]) == 0
    assert "JACK Audio Connection Kit" in capsys.readouterr().out


def test_live_runs_for_duration_and_summarizes(jack_server, capsys):
    assert main(["live", "--preset", "drums", "--samplerate", "48000", "--duration", "1", "--mix", "0.5",
                 "--output-gain", "-6", "--midi-virtual", "--midi-port", "cak-cli-knob", "--midi-api", "jack"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\d+ callbacks, \d+ xruns", err) and "callback time p50" in err
    assert "latency: engine 2787" in err


def test_live_errors_are_one_line(jack_server, capsys):
    assert main(["live", "--samplerate", "48000", "--input-device", "no-such-card", "--duration", "1"]) == 2
    assert main(["live", "--samplerate", "44100", "--duration", "1"]) == 2
    assert main(["live", "--samplerate", "48000", "--midi-port", "nope", "--midi-api", "jack", "--duration", "1"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("cak: error: ") for line in lines), lines


def test_midi_ports_lists(jack_server):
    """``cak midi-ports`` lists a JACK MIDI output that another client opened. In a process of its
    own, as a user runs it (an rtmidi JACK client in the test process could deadlock with the
    harness's Python JACK clients: tests/midi_sender.py)."""
    sender = MidiSender("cli-list")
    try:
        listed = subprocess.run([sys.executable, "-m", "cak_cli", "midi-ports", "--midi-api", "jack"],
                                capture_output=True, text=True, timeout=60)
    finally:
        sender.close()
    assert listed.returncode == 0, listed.stderr
    assert "cak-test-cli-list:cli-list" in listed.stdout


def test_live_with_mapping_file_programs_and_input_channels(jack_server, tmp_path, capsys):
    midi_map = tmp_path / "map.json"
    midi_map.write_text(json.dumps({"controls": [{"target": "texture", "cc": 74, "range": [0, 1]},
                                                 {"target": "bypass", "note": 60, "channel": 10}],
                                    "programs": {"0": "drums", "1": "drums-causal"}}))
    assert main(["live", "--samplerate", "48000", "--duration", "1", "--input-channels", "3,4", "--midi-virtual",
                 "--midi-port", "cak-cli-map", "--midi-api", "jack", "--midi-map", str(midi_map),
                 "--program", "2=melodic"]) == 0
    err = capsys.readouterr().err
    assert "preset 'drums'" in err and "3 programs" in err, err
    assert "texture <- CC 74, bypass <- note 60" in err
    assert "latency: engine 2787" in err  # the bank's largest latency, whichever program plays


@pytest.mark.parametrize("content, message", [
    ({"controls": [{"target": "wobble", "cc": 1}]}, r"map.json: controls\[0\].target: must be one of texture, mix, "
                                                    r"gain, bypass or STAGE.PARAMETER .*got 'wobble'"),
    ({"controls": [{"target": "hp.cutoff_frequency_hz", "cc": 1}]},
     r"map.json: controls\[0\]: target 'hp.cutoff_frequency_hz' names a chain stage; run with --chain"),
    ({"controls": [{"target": "mix", "cc": 200}]}, r"map.json: controls\[0\].cc: must be an integer 0..127, got 200"),
    ({"controls": [{"target": "mix", "note": 60}]}, r"controls\[0\].note: notes can only drive bypass, not mix"),
    ({"programs": {"x": "drums"}}, r"map.json: programs: keys must be program numbers 0..127, got 'x'"),
    ({"program_channel": 17}, r"map.json: program_channel: must be a MIDI channel 1..16, got 17"),
    ({"knobs": []}, r"map.json: unknown field 'knobs'"),
])
def test_bad_mapping_file_is_one_line(jack_server, tmp_path, capsys, content, message):
    midi_map = tmp_path / "map.json"
    midi_map.write_text(json.dumps(content))
    assert main(["live", "--samplerate", "48000", "--duration", "1", "--midi-map", str(midi_map)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and re.search(message, lines[0]), lines


def test_flag_conflicts_are_one_line(jack_server, tmp_path, capsys):
    midi_map = tmp_path / "map.json"
    midi_map.write_text("{}")
    assert main(["live", "--duration", "1", "--midi-map", str(midi_map), "--cc", "7"]) == 2
    assert main(["live", "--duration", "1", "--program", "drums"]) == 2
    assert main(["live", "--duration", "1", "--program", "0=no-such-preset"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("cak: error: ") for line in lines), lines
    assert "--cc cannot be combined with --midi-map" in lines[0] and "--program 'drums'" in lines[1]


@pytest.mark.timeout(120)
def test_lost_jack_server_stops_cak_live_with_one_line(tmp_path):
    """jackd is killed (SIGKILL) under a running ``cak live``: it stops by itself, exit status 2,
    with one 'cak: error:' line saying the audio device was lost. Its own server, not the session's."""
    name = f"cak-lost-{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    with open(tmp_path / "jackd.log", "wb") as log:
        jackd = subprocess.Popen(jackd_command(name, 256), stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(lambda: _ports(name) is not None), "jackd did not start"
        live = subprocess.Popen([sys.executable, "-m", "cak_cli", "live", "--samplerate", "48000", "-q"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=Path(__file__).resolve().parents[1])
        assert _wait_for(lambda: "   PortAudio:in_" in (_ports(name, "-c") or ""), timeout=60), \
            "cak live did not start streaming"
        time.sleep(1.0)  # started: connected, then a second of running
        jackd.kill()
        jackd.wait()
        _, err = live.communicate(timeout=60)
    finally:
        if jackd.poll() is None:
            jackd.kill()
            jackd.wait()
        _release_registry_slot(name)
    errors = [line for line in err.splitlines() if line.startswith("cak: error:")]
    assert live.returncode == 2, err
    assert errors == ["cak: error: the audio device stopped delivering audio (device lost or sound server gone); "
                      "stopped"], err


def _ports(server: str, *options: str) -> str | None:
    result = subprocess.run(["jack_lsp", "-s", server, *options], capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.1)
    return True


def _release_registry_slot(name: str) -> None:
    """A killed jackd leaves its entry in JACK's server registry (8 slots, reclaimed only by a
    server of the same name): start one under that name and stop it properly."""
    with tempfile.TemporaryFile() as log:
        jackd = subprocess.Popen(["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", "48000"],
                                 stdout=log, stderr=subprocess.STDOUT)
        _wait_for(lambda: _ports(name) is not None)
        jackd.terminate()
        jackd.wait(timeout=10)
