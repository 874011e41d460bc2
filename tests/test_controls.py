"""Any stage's parameter as a control target, offline: CSV envelopes and MIDI files through the
mapping file, applied at control-block boundaries the same whatever the block size, and
one-line errors for targets and ranges that cannot be used."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile as sf

from cak_dsp import load_chain
from cak_cli import main
from cak_dsp.control_files import ControlSpec, bind_controls, specs_from_envelopes
from cak_dsp.controls import CONTROL_BLOCK

RATE = 48000
TICKS_PER_BEAT = 480
TEMPO = 10000  # microseconds per beat: one tick is exactly 1/48000 s


def midi_file(path: Path, events: list[tuple[int, int, int]], channel: int = 0) -> Path:
    """A MIDI file with control changes ``(sample at RATE, controller, value)``: one tick per sample."""
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=TEMPO, time=0)])
    now = 0
    for sample, cc, value in sorted(events):
        track.append(mido.Message("control_change", channel=channel, control=cc, value=value, time=sample - now))
        now = sample
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def _boundary(sample: int) -> int:
    return -(-sample // CONTROL_BLOCK) * CONTROL_BLOCK


def _noise(channels: int = 2, seconds: float = 1.0) -> np.ndarray:
    return np.random.default_rng(5).normal(0, 0.2, (channels, int(seconds * RATE))).astype(np.float32)


def _chain_file(tmp_path: Path, synthetic_preset, level: str = "match") -> Path:
    synthetic_preset.save(tmp_path / "synthetic.json")
    path = tmp_path / "chain.json"
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": [
        {"type": "HighpassFilter", "name": "hp", "cutoff_frequency_hz": 100},
        {"type": "cak", "preset": "synthetic.json", "texture": 0.7, "level": level}]}))
    return path


def test_automation_is_applied_at_the_same_samples_whatever_the_block_size(tmp_path, synthetic_preset):
    """A CSV sweep of the highpass cutoff: the offline render and a stream of random blocks (1 to
    511 samples, so parts of one sample occur) set the same values at the same samples (level
    "follow": a stream has no whole-signal measuring pass)."""
    chain_file = _chain_file(tmp_path, synthetic_preset, level="follow")
    (tmp_path / "sweep.csv").write_text("time,cutoff\n0,100\n0.4,4000\n0.8,300\n")
    audio = _noise(2, 1.2)
    specs = specs_from_envelopes([f"hp.cutoff_frequency_hz={tmp_path / 'sweep.csv'}"])
    offline_chain = load_chain(chain_file)
    bind_controls(offline_chain, specs)
    offline = offline_chain(audio, RATE)
    assert np.abs(offline - load_chain(chain_file)(audio, RATE)).max() > 0.05, "the sweep must change the sound"

    live = load_chain(chain_file)
    bank = bind_controls(live, specs)
    live.prepare(RATE, 512, 2)
    latency = live.latency_samples
    padded = np.concatenate([audio, np.zeros((2, latency), np.float32)], axis=1)
    rng = np.random.default_rng(3)
    out, at = [], 0
    while at < padded.shape[1]:
        block = padded[:, at:at + int(rng.integers(1, 512))]
        out.append(live.process(block, np.empty_like(block)).copy())
        at += block.shape[1]
    streamed = np.concatenate(out, axis=1)[:, latency:latency + audio.shape[1]]
    settled = slice(0, audio.shape[1] - 2 * 2232)  # the offline end is flushed, the stream ran on
    error = np.abs(streamed[:, settled] - offline[:, settled]).max()
    changes = bank.controls[0].changes()
    print(f"{len(changes)} cutoff changes, one per {CONTROL_BLOCK}-sample block while it moves; "
          f"stream vs offline max abs {error:.2e}")
    assert error <= 1e-5
    assert all(pos % CONTROL_BLOCK == 0 for pos, _ in changes)
    assert changes[0] == (CONTROL_BLOCK, pytest.approx(100 + 3900 * CONTROL_BLOCK / (0.4 * RATE)))


def test_the_level_measuring_pass_hears_the_automation(tmp_path, synthetic_preset):
    """level "match" measures the whole signal in a first pass: the automated cutoff moves in
    that pass as in the real one, so [hp (automated), CAK] equals CAK on the automated hp's output."""
    chain_file = _chain_file(tmp_path, synthetic_preset)
    (tmp_path / "sweep.csv").write_text("0,100\n0.3,6000\n0.6,150\n")
    specs = specs_from_envelopes([f"hp.cutoff_frequency_hz={tmp_path / 'sweep.csv'}"])
    audio = _noise(2, 0.9)
    both = load_chain(chain_file)
    bind_controls(both, specs)
    filtered = load_chain(chain_file)
    filtered.stages, filtered.names = filtered.stages[:1], filtered.names[:1]
    bind_controls(filtered, specs)
    cak = load_chain(chain_file)
    cak.stages, cak.names = cak.stages[1:], cak.names[1:]
    expected = cak(filtered(audio, RATE), RATE)
    assert np.abs(both(audio, RATE) - expected).max() <= 1e-5


def test_midi_file_drives_mapped_parameters_as_live(tmp_path, synthetic_preset):
    """A mapping file's stage-parameter controls read from a MIDI file: each value is
    ``low + (high - low) * x ** curve`` from the first control boundary at or after the event;
    a 14-bit pair, as live; the glide approaches with the stated time constant."""
    chain_file = _chain_file(tmp_path, synthetic_preset)
    take = midi_file(tmp_path / "take.mid", [(0, 20, 0), (1000, 20, 127), (20000, 20, 64),
                                             (30000, 1, 100), (30000, 33, 5)])
    mappings = [ControlSpec("hp.cutoff_frequency_hz", "map", 200.0, 2000.0, 2.0, 0.0, cc=20, midi_file=str(take)),
                ControlSpec("stage 2.texture", "map", 0.0, 1.5, 1.0, 30.0, cc=1, fine=True, midi_file=str(take))]
    chain = load_chain(chain_file)
    bank = bind_controls(chain, mappings)
    chain(_noise(2, 0.8), RATE)
    cutoff, texture = bank.controls
    assert cutoff.changes() == [(0, 200.0), (_boundary(1000), 2000.0),
                                (_boundary(20000), pytest.approx(200 + 1800 * (64 / 127) ** 2))]
    fine = ((100 << 7) | 5) / 16383
    assert texture.changes() == [(_boundary(30000), pytest.approx(1.5 * fine))], "MSB then LSB at one sample"
    alpha = 1 - math.exp(-CONTROL_BLOCK / (30e-3 * RATE))
    chain.prepare(RATE, 512, 2)
    block = np.zeros((2, _boundary(30000) + CONTROL_BLOCK), np.float32)
    chain.process(block, np.empty_like(block))
    assert texture.value == pytest.approx(0.7 + (1.5 * fine - 0.7) * alpha), "one glide step after the event"
    assert cutoff.value == pytest.approx(200 + 1800 * (64 / 127) ** 2), "smoothing_ms 0 jumps"


def test_cak_render_midi_map_and_automate(tmp_path, synthetic_preset, plugins_dir):
    """cak render --midi-map --automation FILE.mid and --automate TARGET=FILE.csv: the CLI gives
    what the API gives; a VST3 switch is a target (it jumps, no glide)."""
    chain_file = _chain_file(tmp_path, synthetic_preset)
    stages = json.loads(chain_file.read_text())["stages"]
    stages.append({"type": "plugin", "name": "grid", "path": str(plugins_dir / "d_parameters.vst3")})
    chain_file.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    audio = _noise(2, 0.8)
    sf.write(tmp_path / "in.wav", audio.T, RATE, subtype="FLOAT")
    take = midi_file(tmp_path / "take.mid", [(0, 20, 10), (12000, 20, 120), (15000, 21, 127)])
    (tmp_path / "map.json").write_text(json.dumps({"controls": [
        {"target": "hp.cutoff_frequency_hz", "cc": 20, "range": [100, 3000], "curve": 2, "smoothing_ms": 10},
        {"target": "grid.top_left", "cc": 21},
        {"target": "mix", "cc": 7}]}))
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "midi.wav"), "--chain", str(chain_file),
                 "--midi-map", str(tmp_path / "map.json"), "--automation", str(take), "-q"]) == 0
    (tmp_path / "sweep.csv").write_text("0,100\n0.5,2500\n")
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "csv.wav"), "--chain", str(chain_file),
                 "--automate", f"1.cutoff_frequency_hz={tmp_path / 'sweep.csv'}", "-q"]) == 0

    chain = load_chain(chain_file)
    bank = bind_controls(chain, [
        ControlSpec("hp.cutoff_frequency_hz", "map", 100.0, 3000.0, 2.0, 10.0, cc=20, midi_file=str(take)),
        ControlSpec("grid.top_left", "map", cc=21, midi_file=str(take))])
    expected = chain(audio, RATE)
    assert bank.controls[1].changes() == [(_boundary(15000), 1.0)]
    assert np.array_equal(sf.read(tmp_path / "midi.wav", dtype="float32", always_2d=True)[0].T, expected)
    chain = load_chain(chain_file)
    bind_controls(chain, specs_from_envelopes([f"1.cutoff_frequency_hz={tmp_path / 'sweep.csv'}"]))
    assert np.array_equal(sf.read(tmp_path / "csv.wav", dtype="float32", always_2d=True)[0].T, chain(audio, RATE))


@pytest.mark.parametrize("control, message", [
    ({"target": "stage 9.cutoff_frequency_hz", "cc": 1},
     r"map.json: controls\[0\]: target 'stage 9.cutoff_frequency_hz': no stage 9; the chain has stage 1 "
     r"\(HighpassFilter 'hp'\), stage 2 \(cak\)"),
    ({"target": "lp.cutoff_frequency_hz", "cc": 1}, r"no stage named 'lp'"),
    ({"target": "hp.cutoff", "cc": 1}, r"stage 1 \(HighpassFilter 'hp'\) has no parameter 'cutoff'; it has: "
                                       r"cutoff_frequency_hz"),
    ({"target": "hp.cutoff_frequency_hz", "cc": 1}, r"parameter 'cutoff_frequency_hz' states no range; give the "
                                                    r"control a 'range'"),
    ({"target": "hp.cutoff_frequency_hz", "cc": 1, "range": [20, 30000]},
     r"map.json: controls\[0\]: stage 1 \(HighpassFilter 'hp'\) parameter 'cutoff_frequency_hz': range 20..30000 "
     r"must lie within 0..24000 at 48000 Hz"),
    ({"target": "2.texture", "cc": 1, "range": [0, 5]}, r"stage 2 \(cak\) parameter 'texture': range 0..5 must lie "
                                                         r"within 0..2"),
    ({"target": "2.mode", "cc": 1}, r"a CAK stage's parameter is 'texture', not 'mode'"),
    ({"target": "hp.cutoff_frequency_hz", "cc": 1, "range": [20, "NaN"]}, r"controls\[0\].range: must be two finite"),
    ({"target": "mix", "cc": 1, "smoothing_ms": 5}, r"smoothing_ms: .* for STAGE.PARAMETER targets only"),
    ({"target": "hp cutoff", "cc": 1}, r"\.target: must be one of texture, mix, gain, bypass or STAGE.PARAMETER"),
])
def test_bad_targets_are_one_line_and_render_nothing(tmp_path, synthetic_preset, capsys, control, message):
    chain_file = _chain_file(tmp_path, synthetic_preset)
    sf.write(tmp_path / "in.wav", _noise(2, 0.2).T, RATE, subtype="FLOAT")
    (tmp_path / "map.json").write_text(json.dumps({"controls": [control]}).replace('"NaN"', "NaN"))
    take = midi_file(tmp_path / "take.mid", [(0, 1, 64)])
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain_file),
                 "--midi-map", str(tmp_path / "map.json"), "--automation", str(take), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cak: error: "), err
    assert re.search(message, err), err
    assert not (tmp_path / "out.wav").exists()


def test_bad_envelopes_and_vst3_ranges(tmp_path, synthetic_preset, plugins_dir, capsys):
    chain_file = _chain_file(tmp_path, synthetic_preset)
    sf.write(tmp_path / "in.wav", _noise(2, 0.2).T, RATE, subtype="FLOAT")
    (tmp_path / "nan.csv").write_text("0,100\n0.1,nan\n")
    (tmp_path / "high.csv").write_text("0,100\n0.1,25000\n")
    stages = [{"type": "plugin", "name": "grid", "path": str(plugins_dir / "d_parameters.vst3")}]
    (tmp_path / "vst.json").write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    (tmp_path / "range.csv").write_text("0,0\n0.1,2\n")
    cases = [(chain_file, f"hp.cutoff_frequency_hz={tmp_path / 'nan.csv'}", r"nan.csv: line 2: value must be a finite"),
             (chain_file, f"hp.cutoff_frequency_hz={tmp_path / 'high.csv'}", r"high.csv: .*range 100..25000 must lie "
                                                                             r"within 0..24000 at 48000 Hz"),
             (tmp_path / "vst.json", f"grid.top_left={tmp_path / 'range.csv'}",
              r"range.csv: stage 1 \(Parameters 'grid'\) parameter 'top_left': range 0..2 must lie within 0..1"),
             (tmp_path / "vst.json", f"grid.current_program={tmp_path / 'range.csv'}",
              r"is a choice of Default, Custom"),
             (chain_file, "hp.cutoff_frequency_hz", r"--automate 'hp.cutoff_frequency_hz': expected STAGE.PARAMETER=")]
    for chain, automate, message in cases:
        assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain", str(chain),
                     "--automate", automate, "-q"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and re.search(message, err), (automate, err)
        assert not (tmp_path / "out.wav").exists()
