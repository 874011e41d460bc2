"""Hostile input live, on the JACK server: absurd settings refused at start with one line, a
processor that raises muted and reported, NaN never at the output ports, and a MIDI burst that
leaves the knob at its last value without printing per message."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from pedalboard import Reverb

from cak_dsp import Chain, PluginStage
from cak_realtime.devices import LiveError
from cak_realtime.midi import CCMapping, MidiControl
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE, wait_until

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1]


def _cak_live(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cak_cli", "live", "--samplerate", str(RATE), "--duration", "2",
                           "-q", *args], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=env or dict(os.environ))


@pytest.mark.parametrize("args, message", [
    (["--output-gain", "nan"], "--output-gain must be from -120 to 40 dB, got nan"),
    (["--output-gain", "1e9"], "--output-gain must be from -120 to 40 dB, got 1000000000.0"),
    (["--cc-range", "nan", "nan"], "--cc-range: must be two finite numbers [low, high] from -10 to 10 for texture"),
    (["--cc-range", "0", "inf"], "--cc-range: must be two finite numbers"),
    (["--cc-curve", "nan"], "--cc-curve: must be a number from 0.01 to 100, got NaN"),
    (["--gain-cc", "11", "--gain-range", "-60", "1e9"], "--gain-range: must be two finite numbers [low, high] from "
                                                        "-120 to 40 for gain"),
    (["--mix", "nan"], "--mix must be from 0 to 1, got nan"),
    (["--ceiling-db", "nan"], "--ceiling-db: ceiling must be between -60 and 80 dBFS, got nan"),
    (["--latency", "inf"], "latency must be a number from 0 to 2 seconds"),
    (["--channels", "0"], "channels must be a whole number from 1 to 64, got 0"),
    (["--blocksize", "1000000"], "blocksize must be a whole number from 0 to 8192"),
    (["--cc", "300"], "--cc: must be an integer 0..127, got 300"),
])
def test_absurd_settings_are_refused_at_start_with_one_line(jack_server, args, message):
    done = _cak_live(args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [f"cak: error: {message}"] or \
        (len(done.stderr.strip().splitlines()) == 1 and message in done.stderr), done.stderr


@pytest.mark.parametrize("control, message", [
    ('{"target": "texture", "cc": 1, "range": [NaN, 1]}', r"controls[0].range: must be two finite numbers "
                                                          r"[low, high] from -10 to 10 for texture, got [NaN, 1]"),
    ('{"target": "texture", "cc": 1, "range": [0, Infinity]}', "controls[0].range: must be two finite numbers"),
    ('{"target": "texture", "cc": 1, "curve": NaN}', "controls[0].curve: must be a number from 0.01 to 100, got NaN"),
    ('{"target": "texture", "cc": 1, "curve": Infinity}', "controls[0].curve: must be a number from 0.01 to 100"),
    ('{"target": "mix", "cc": 7, "range": [NaN, 1]}', "controls[0].range: must be two finite numbers [low, high] "
                                                      "from 0 to 1 for mix"),
    ('{"target": "gain", "cc": 7, "range": [0, 1e9]}', "controls[0].range: must be two finite numbers [low, high] "
                                                       "from -120 to 40 for gain"),
])
def test_mapping_file_numbers_are_refused_at_start_with_one_line(jack_server, tmp_path, control, message):
    midi_map = tmp_path / "map.json"
    midi_map.write_text('{"controls": [' + control + "]}")
    done = _cak_live(["--midi-map", str(midi_map), "--midi-virtual", "--midi-api", "jack"])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and f"map.json: {message}" in lines[0], done.stderr


def test_deeply_nested_mapping_file_is_one_line(jack_server, tmp_path):
    midi_map = tmp_path / "map.json"
    midi_map.write_text('{"controls": ' + "[" * 100000 + "]" * 100000 + "}")
    done = _cak_live(["--midi-map", str(midi_map)])
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"cak: error: {midi_map}: nested too deeply to be a MIDI mapping file"], done.stderr


class Failing:
    """Stands in for a plugin that works until ``fail`` is set, then raises in every block."""

    name = "Failing"

    def __init__(self) -> None:
        self.fail = False

    def process(self, block, sample_rate, buffer_size=None, reset=True):
        if self.fail:
            raise RuntimeError("boom")
        return block.copy()

    def reset(self) -> None:
        pass


def test_processor_that_raises_is_muted_and_reported_in_one_line(jack_server, jack_io):
    plugin = Failing()
    host = LiveHost(LiveConfig(preset=None, chain=Chain([PluginStage(plugin)]), samplerate=RATE, channels=1))
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE // 4) / RATE).astype(np.float32)[None, :]
    io = jack_io(1)
    with host:
        io.connect()
        before = io.play(tone, tone.shape[1], host_samples=lambda: host.samples_processed)
        host.check_alive()
        plugin.fail = True
        assert wait_until(lambda: host.failure is not None)
        after = io.play(tone, tone.shape[1])
        with pytest.raises(LiveError) as raised:
            host.check_alive()
    assert np.abs(before).max() > 0.4, "the plugin passed audio before it failed"
    assert np.all(after == 0), "muted after the failure"
    assert str(raised.value) == ("the processor failed in the audio callback and was muted (RuntimeError: boom); "
                                 "stopped")


def _hostile_signal() -> np.ndarray:
    rng = np.random.default_rng(11)
    signal = rng.uniform(-0.5, 0.5, (2, RATE)).astype(np.float32)
    signal[:, 4000:4300] = np.nan
    signal[0, 9000] = np.inf
    signal[1, 9001] = -np.inf
    signal[:, 12000:12100] = 3e38
    return signal


@pytest.mark.parametrize("what", ["preset", "chain with a reverb", "preset, half dry"])
def test_nan_never_reaches_the_jack_output_ports(jack_server, jack_io, synthetic_preset, what):
    """NaN, infinities and absurd values at the input: the recorded output ports carry finite
    samples within the 0 dBFS ceiling, and sound again once the garbage has passed."""
    chain = Chain([Reverb(), PluginStage(Reverb())]) if what.startswith("chain") else None
    host = LiveHost(LiveConfig(preset=None if chain else synthetic_preset, chain=chain, texture=1.5, samplerate=RATE,
                               channels=2, mix=0.5 if "dry" in what else 1.0))
    signal = _hostile_signal()
    io = jack_io(2)
    with host:
        io.connect()
        recorded = io.play(signal, signal.shape[1] + host.latency_samples, host_samples=lambda: host.samples_processed)
    assert np.all(np.isfinite(recorded)), f"{np.count_nonzero(~np.isfinite(recorded))} non-finite samples"
    assert np.abs(recorded).max() <= 1.0
    tail = recorded[:, -RATE // 4:]
    assert np.sqrt(np.mean(tail ** 2)) > 0.01, "the output sounds again after the garbage"


class BurstSender:
    """tests/midi_burst.py in a process of its own (a JACK MIDI output through rtmidi)."""

    def __init__(self, port: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.midi_burst", f"cak-test-{port}", port],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.process.stdout.readline().strip() == "ready"

    def burst(self, count: int, ms: float, cc: int, last: int) -> tuple[int, float]:
        self.process.stdin.write(f"burst {count} {ms} {cc} {last}\n")
        self.process.stdin.flush()
        _, sent, seconds = self.process.stdout.readline().split()
        return int(sent), float(seconds)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


@pytest.mark.timeout(120)
def test_midi_burst_leaves_the_knob_at_the_last_value_without_printing(jack_server, synthetic_preset, capfd):
    """20,000 CC in 50 ms while the stream runs, twice: the knob ends at the last CC's value, no
    message is printed per CC (rtmidi's queue-full warnings would be: 31,810 lines for one burst
    with the former 4096-message queue), nothing is lost, and the stream keeps running."""
    host = LiveHost(LiveConfig(preset=synthetic_preset, samplerate=RATE, channels=1, texture=0.0))
    sender = BurstSender("burst")
    took = []
    try:
        with MidiControl([CCMapping(cc=74, low=0.0, high=1.5)], host.setters(), port="cak-test-burst",
                         api="jack") as midi, host:
            for last in (100, 37):
                sent, seconds = sender.burst(20000, 50.0, 74, last)
                took.append(seconds)
                assert sent == 20000
                assert wait_until(lambda: host.texture_target == pytest.approx(1.5 * last / 127), timeout=10), \
                    f"the knob is at {host.texture_target:.4f}, not {1.5 * last / 127:.4f}"
                time.sleep(0.3)
                assert host.texture_target == pytest.approx(1.5 * last / 127), "a late message moved the knob"
            assert host.active and midi.dropped == 0
            forwarded = midi.events
    finally:
        sender.close()
    err = capfd.readouterr().err
    print(f"bursts of 20000 CC sent in {', '.join(f'{1e3 * t:.0f} ms' for t in took)}; "
          f"{forwarded} of 40000 reached the setters (the newest per control)")
    assert max(took) < 0.2, "the sender could not send the burst in a burst"
    assert "queue limit" not in err and len(err.splitlines()) < 5, err[-2000:]


def test_newest_keeps_the_last_value_of_each_control_in_order():
    """The MIDI helper's burst filter (no JACK needed, but beside the live burst test)."""
    from cak_realtime.midi_port import newest

    burst = [[0xB0, 74, v % 128] for v in range(1000)] + [[0xB0, 1, 64], [0xB0, 33, 5], [0xB0, 1, 65],
                                                           [0xB1, 74, 3], [0xC0, 1], [0xC0, 2], [0x90, 60, 100],
                                                           [0x80, 60, 0], [0xF8], [0xB0, 74, 7]]
    assert newest(burst) == [[0xB0, 33, 5], [0xB0, 1, 65], [0xB1, 74, 3], [0xC0, 1], [0xC0, 2], [0x80, 60, 0],
                             [0xF8], [0xB0, 74, 7]]
