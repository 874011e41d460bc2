"""The studio's parts without a browser or a sound card: the file player and its knob take, the
mapping file writer, MIDI learn of any control, the upload size option, and the message when
aiohttp is missing."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cak_dsp.automation import load_automation
from cak_realtime.midi import CCMapping, MidiControl
from cak_realtime.midimap import MidiMap, load_midi_map, save_midi_map
from cak_realtime.studio.player import FilePlayer, Tap

ROOT = Path(__file__).resolve().parents[1]


def _blocks(player: FilePlayer, sizes, knob=lambda start: 0.5) -> np.ndarray:
    """Run the callback's side of the player: per block, note the knob, then read."""
    out = []
    for n in sizes:
        player.restart_pending()
        player.block_starts(n, knob(player.position))
        block = np.zeros((player.audio.shape[0], n), np.float32)
        player.read(block)
        out.append(block)
    return np.concatenate(out, axis=1)


def test_player_plays_wraps_and_stops():
    audio = np.arange(10, dtype=np.float32)[None] + 1
    player = FilePlayer(audio, loop=True)
    player.play()
    assert player.restart_pending() and not player.restart_pending()
    assert _blocks(player, [4, 4, 4])[0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]
    player.loop = False
    assert _blocks(player, [4, 8])[0].tolist() == [3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0]
    assert not player.playing and player.position == 0


def test_take_knob_points_reproduce_the_blocks_under_linear_interpolation(tmp_path):
    """The CSV of a take, read by ``cak render --automation`` (linear), gives every sample the
    texture its block used live."""
    rate = 48000
    player = FilePlayer(np.zeros((1, 6000), np.float32), loop=False)
    sizes = [256] * 19 + [100, 37, 256]
    knob = {}

    def turn(start: int) -> float:
        knob[start] = 0.0 if start < 1000 else round(0.3 + start / 4000, 3) if start < 3000 else 1.25
        return knob[start]

    player.play()
    _blocks(player, sizes, turn)
    times, values = player.knob_points(rate)
    csv = tmp_path / "knob.csv"
    csv.write_text("time,texture\n" + "".join(f"{float(t)!r},{float(v)!r}\n" for t, v in zip(times, values)))
    curve = load_automation(csv).curve(rate, 0, sum(sizes))
    expected = np.concatenate([np.full(n, knob[start]) for start, n in zip(np.cumsum([0] + sizes[:-1]), sizes)])
    assert np.array_equal(curve, expected)


def test_seek_and_stop_end_the_take():
    player = FilePlayer(np.zeros((1, 2000), np.float32))
    player.play()
    _blocks(player, [100])
    assert player.recording
    player.seek(0.5 * 2000)
    assert not player.recording
    player.play()  # not from the start: no take
    assert not player.recording


def test_tap_keeps_the_latest_dry_and_wet():
    tap = Tap(2)
    dry = np.stack([np.arange(5000, dtype=np.float32)] * 2)
    for at in range(0, 5000, 250):
        tap.write(dry[:, at:at + 250], -dry[:, at:at + 250])
    audio, written = tap.latest(1000)
    assert written == 5000
    assert audio[0].tolist() == list(range(4000, 5000)) and audio[1].tolist() == [-v for v in range(4000, 5000)]


def test_mapping_file_round_trip(tmp_path):
    controls = [CCMapping(cc=21, channel=5, low=0.0, high=1.5), CCMapping(target="mix", cc=7, low=0.0, high=1.0),
                CCMapping(target="bypass", note=60, channel=10), CCMapping(cc=None, target="gain")]
    path = tmp_path / "map.json"
    save_midi_map(MidiMap(controls, {0: "drums"}, 1), path)
    loaded = load_midi_map(path)
    assert [(m.target, m.cc, m.note, m.channel) for m in loaded.controls] == [
        ("texture", 21, None, 5), ("mix", 7, None, None), ("bypass", None, 60, 10)]
    assert [(m.low, m.high) for m in loaded.controls[:2]] == [(0.0, 1.5), (0.0, 1.0)]
    assert loaded.programs == {0: "drums"} and loaded.program_channel == 1


def test_learn_binds_any_control():
    values = {}
    setters = {name: (lambda v, name=name: values.__setitem__(name, v))
               for name in ("texture", "mix", "gain", "bypass")}
    midi = MidiControl([CCMapping(cc=1)], setters, port="unused")
    midi.learn("gain")
    assert midi.learning
    midi.handle([0xB0, 1, 127])  # already the texture knob: not taken
    midi.handle([0xB2, 20, 127])
    assert not midi.learning and values == {"texture": 1.5, "gain": 6.0}
    assert [(m.target, m.cc, m.channel) for m in midi.mappings] == [("texture", 1, None), ("gain", 20, 3)]
    midi.learn("texture")  # replaces the texture knob
    midi.handle([0xB0, 22, 0])
    assert [(m.target, m.cc) for m in midi.mappings] == [("gain", 20), ("texture", 22)]


def test_upload_size_option():
    from cak_cli.studio import byte_size

    assert byte_size("1G") == 1 << 30 and byte_size("500M") == 500 << 20 and byte_size("65536") == 65536
    for bad in ("lots", "10", "-5M"):
        with pytest.raises(argparse.ArgumentTypeError):
            byte_size(bad)


def test_without_aiohttp_one_line():
    code = ("import sys; sys.modules['aiohttp'] = None; from cak_cli import main; "
            "sys.exit(main(['studio', '--no-audio']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["cak: error: cak studio needs aiohttp: pip install 'cak[studio]'"]


def test_bypassed_stages_pass_their_input_delayed_by_their_latency():
    """A bypassed stage outputs its input exactly as late as it would its output: bypassing the
    CAK stage of [high-pass, CAK] gives the high-pass alone, delayed by CAK's latency; bypassing
    both gives the input delayed by the chain's latency; nothing bypassed is the plain chain."""
    from pedalboard import HighpassFilter

    from cak_dsp import Cak, Chain
    from cak_realtime.bypass_chain import BypassChain

    rate, block = 48000, 256
    noise = np.random.default_rng(4).normal(0, 0.2, (2, rate)).astype(np.float32)

    def run(chain, bypass=()):
        chain.prepare(rate, block, 2)
        for index in bypass:
            chain.set_bypass(index, True)
        chain.reset()
        out = np.zeros_like(noise)
        for at in range(0, noise.shape[1], block):
            chain.process(noise[:, at:at + block], out[:, at:at + block])
        return out, chain.latency_samples

    both, latency = run(BypassChain([HighpassFilter(80), Cak("drums", texture=1.2)]), bypass=(0, 1))
    assert np.array_equal(both[:, latency:], noise[:, :-latency]) and not both[:, :latency].any()
    only_hp, latency = run(BypassChain([HighpassFilter(80), Cak("drums", texture=1.2)]), bypass=(1,))
    high_passed, hp_latency = run(Chain([HighpassFilter(80)]))
    delay = latency - hp_latency
    assert np.abs(only_hp[:, delay:] - high_passed[:, :-delay]).max() <= 1e-6
    live, _ = run(BypassChain([HighpassFilter(80), Cak("drums", texture=1.2)]))
    plain, _ = run(Chain([HighpassFilter(80), Cak("drums", texture=1.2)]))
    assert np.array_equal(live, plain)  # nothing bypassed: the plain chain, to the bit
