"""External VST3 plugins in chains, tested with the real plugins in ../shared/plugins (DPF
examples): alignment with a plugin's reported latency, the channel-layout policy, plugin state
saved and reloaded bit for bit, and one-line errors for broken plugins and bad values.
Skipped, with the reason, where the plugins are absent."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pedalboard import Resample

from cak_dsp import Cak, Chain, ChainError, ExternalStage, PluginStage, load_chain
from cak_dsp.chain_save import save_chain
from cak_cli import main
from cak_dsp.plugin_stage import StageError

RATE = 44100  # the offline tests run at 44.1 kHz, where d_latency reports 44100 samples (1 s)


def _chain_file(path: Path, stages: list) -> Path:
    path.write_text(json.dumps({"format": "cak-chain", "version": 1, "stages": stages}))
    return path


def _lag(output: np.ndarray, reference: np.ndarray) -> int:
    """The lag (samples) of the cross-correlation peak of ``output`` against ``reference``."""
    n = output.size + reference.size
    spectrum = np.fft.rfft(output, n) * np.conj(np.fft.rfft(reference, n))
    corr = np.fft.irfft(spectrum, n)
    lag = int(np.argmax(np.abs(corr)))
    return lag if lag < n // 2 else lag - n


@pytest.fixture
def stereo_drums(drums: np.ndarray) -> np.ndarray:
    """Real drums, a different mix per channel, with 0.1 s of silence at both ends."""
    pad = np.zeros(RATE // 10, np.float32)
    left = np.concatenate([pad, drums, pad])
    return np.stack([left, 0.7 * np.roll(left, 5000)]).astype(np.float32)


def test_real_plugin_chain_renders_aligned(tmp_path, plugins_dir, synthetic_preset, stereo_drums, capsys):
    """[d_parameters, CAK, d_latency per channel]: the chain reports the CAK latency plus the
    plugin's 1 s, and ``cak render --chain`` comes out aligned: cross-correlation peak at lag 0
    on each channel, and at texture 0 the input itself."""
    synthetic_preset.save(tmp_path / "synthetic.json")
    stages = [{"type": "plugin", "path": str(plugins_dir / "d_parameters.vst3"), "parameters": {"top_left": 1}},
              {"type": "cak", "preset": "synthetic.json", "texture": 1.2},
              {"type": "plugin", "path": str(plugins_dir / "d_latency.vst3")}]
    chain = load_chain(_chain_file(tmp_path / "chain.json", stages))
    chain.prepare(RATE, 1024, 2)
    delay = chain.stages[2]
    cak = Chain([Cak(synthetic_preset)])
    cak.prepare(RATE, 1024, 2)
    assert delay.plugin.reported_latency_samples == RATE
    assert delay.latency_samples == RATE and chain.latency_samples == cak.latency_samples + RATE
    assert delay.layout_used == "per-channel" and len(delay.instances) == 2

    sf.write(tmp_path / "in.wav", stereo_drums.T, RATE, subtype="FLOAT")
    for texture in ("1.2", "0"):
        assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / f"out{texture}.wav"), "--chain",
                     str(tmp_path / "chain.json"), "--texture", texture, "-q"]) == 0
    wet = sf.read(tmp_path / "out1.2.wav", dtype="float32", always_2d=True)[0].T
    identity = sf.read(tmp_path / "out0.wav", dtype="float32", always_2d=True)[0].T
    assert "latency" in capsys.readouterr().out
    lags = [_lag(wet[ch], stereo_drums[ch]) for ch in range(2)]
    error = np.abs(identity - stereo_drums).max()
    print(f"chain latency {chain.latency_samples} (CAK {cak.latency_samples} + d_latency {RATE}); "
          f"cross-correlation peak lags {lags}; texture 0 vs input max abs {error:.2e}; "
          f"texture 1.2 changes it by {np.abs(wet - stereo_drums).max():.2f}")
    assert lags == [0, 0]
    assert np.abs(wet - stereo_drums).max() > 0.05, "the CAK stage must change the signal"
    assert error < 1e-6


def test_mono_plugin_in_a_stereo_chain_runs_one_instance_per_channel(plugins_dir, stereo_drums):
    """d_latency takes mono only: in a stereo chain each channel gets its own instance and comes
    out as it went in (the plugin only delays, and its latency is compensated); 'direct' and the
    stereo-into-mono layouts are refused in one line."""
    stage = ExternalStage(plugins_dir / "d_latency.vst3")
    out = Chain([stage])(stereo_drums, RATE)
    assert stage.layout_used == "per-channel" and len(stage.instances) == 2
    assert np.array_equal(out, stereo_drums)
    for layout, message in [("direct", r"^stage 1: Latency takes mono \(1 channel\), not the chain's 2"),
                            ("average", r"^stage 1: Latency takes mono .*'average' is for a stereo plugin in a mono chain")]:
        with pytest.raises(StageError, match=message):
            Chain([ExternalStage(plugins_dir / "d_latency.vst3", layout=layout)]).prepare(RATE, 256, 2)
    bare = pytest.importorskip("pedalboard").load_plugin(str(plugins_dir / "d_latency.vst3"))
    with pytest.raises(StageError, match="Latency is mono: in a 2-channel chain it needs one instance per channel"):
        Chain([bare]).prepare(RATE, 256, 2)


def test_stereo_plugin_in_a_mono_chain_gets_the_mono_signal_on_both_inputs(plugins_dir, stereo_drums):
    """d_parameters takes stereo only: a mono chain feeds it the mono signal twice and averages
    its outputs (or keeps the left one); a 3-channel chain is refused in one line."""
    mono = stereo_drums[0]
    for layout in ("auto", "average", "left"):
        stage = ExternalStage(plugins_dir / "d_parameters.vst3", layout=layout)
        assert np.array_equal(Chain([stage])(mono, RATE), mono)
        assert stage.layout_used == ("average" if layout == "auto" else layout)
    with pytest.raises(StageError, match=r"^stage 1: Parameters takes stereo \(2 channels\); the chain has 3 channel\(s\)"):
        Chain([ExternalStage(plugins_dir / "d_parameters.vst3")]).prepare(RATE, 256, 3)


def test_saved_chain_reloads_bit_identically(tmp_path, plugins_dir, synthetic_preset, stereo_drums):
    """Parameters moved after loading (a built-in's cutoff, a VST3's switches and program, a CAK
    texture) are in the saved chain: a VST3's through its state, plus 'parameters' for what the
    state does not bring back (d_states' program), and the reloaded chain renders bit-identically."""
    synthetic_preset.save(tmp_path / "synthetic.json")
    stages = [{"type": "HighpassFilter", "name": "hp", "cutoff_frequency_hz": 80},
              {"type": "plugin", "name": "grid", "path": str(plugins_dir / "d_parameters.vst3"),
               "parameters": {"top_left": 1}},
              {"type": "cak", "preset": "synthetic.json", "texture": 0.4},
              {"type": "plugin", "path": str(plugins_dir / "d_states.vst3")}]
    _chain_file(tmp_path / "chain.json", stages)
    assert main(["chain", "save", str(tmp_path / "chain.json"), str(tmp_path / "saved.json"),
                 "--set", "hp.cutoff_frequency_hz=133.25", "--set", "grid.bottom_right=1",
                 "--set", "3.texture=0.9", "--set", "4.current_program=Custom"]) == 0
    saved = json.loads((tmp_path / "saved.json").read_text())
    assert [s.get("name") for s in saved["stages"]] == ["hp", "grid", None, None]
    assert saved["stages"][0]["cutoff_frequency_hz"] == 133.25 and saved["stages"][2]["texture"] == 0.9
    assert "parameters" not in saved["stages"][1] and saved["stages"][1]["identifier"].startswith("VST3-Parameters")
    assert saved["stages"][3]["parameters"] == {"current_program": "Custom"}, "the one thing the state lacks"
    assert saved["stages"][2]["preset"] == "synthetic.json", "a preset beside the file stays relative"

    reloaded = load_chain(tmp_path / "saved.json")
    grid, states = reloaded.stages[1], reloaded.stages[3]
    assert (grid.plugin.top_left, grid.plugin.bottom_right, states.plugin.current_program) == (1.0, 1.0, "Custom")
    original = load_chain(tmp_path / "chain.json")
    original.stages[0].plugin.cutoff_frequency_hz = 133.25
    original.stages[1].set_checked("bottom_right", 1)
    original.stages[2].texture = 0.9
    original.stages[3].set_checked("current_program", "Custom")
    first = original(stereo_drums, RATE)
    again = reloaded(stereo_drums, RATE)
    assert np.array_equal(first, again)
    assert grid.state() == original.stages[1].state() and states.state() == original.stages[3].state()

    save_chain(reloaded, tmp_path / "twice.json")
    assert json.loads((tmp_path / "twice.json").read_text()) == saved, "saving a reloaded chain changes nothing"
    wrong = dict(saved["stages"][1], path=str(plugins_dir / "d_states.vst3"))
    with pytest.raises(ChainError, match=r"stage 1: the state was saved from plugin 'VST3-Parameters-.*', but "
                                         r".*d_states.vst3 is 'VST3-States-"):
        load_chain(_chain_file(tmp_path / "wrong.json", [wrong]))
    with pytest.raises(ChainError, match="stage 1: field 'state' must be the base64 text cak chain save writes"):
        load_chain(_chain_file(tmp_path / "bad.json", [dict(saved["stages"][1], state="not base64!")]))
    assert base64.b64decode(saved["stages"][3]["state"]) == states.state()


class Silent:
    """Stands in for a plugin with no audio outputs (none is at hand as a real file): like such a
    plugin under pedalboard, it refuses audio of every channel count."""

    name = "Silent"

    def process(self, block, sample_rate, buffer_size=None, reset=True):
        raise ValueError(f"Plugin 'Silent' does not support {block.shape[0]}-channel output. "
                         "(Main bus currently expects 0 input channels and 0 output channels.)")

    def reset(self):
        pass


def test_bad_plugins_and_values_are_one_line_each_and_render_nothing(tmp_path, plugins_dir, broken_plugins,
                                                                      stereo_drums, capsys):
    sf.write(tmp_path / "in.wav", stereo_drums.T, RATE, subtype="FLOAT")
    latency = str(plugins_dir / "d_latency.vst3")
    cases = {
        "garbage": ({"type": "plugin", "path": str(broken_plugins / "garbage.vst3")},
                    r"stage 1: cannot load plugin .*garbage.vst3: .*Unable to scan plugin"),
        "range": ({"type": "plugin", "path": latency, "parameters": {"latency_frames": 5e6}},
                  r"stage 1: Latency: parameter 'latency_frames' must be between 0 and 3840000.*, got 5000000.0"),
        "unknown": ({"type": "plugin", "path": latency, "parameters": {"delay": 1}},
                    r"stage 1: Latency has no parameter 'delay'; it has: latency_frames 0..3840000"),
        "nan": ({"type": "HighpassFilter", "cutoff_frequency_hz": float("nan")},
                r"stage 1: HighpassFilter parameter 'cutoff_frequency_hz' must be a finite number, got nan"),
        "nyquist": ({"type": "HighpassFilter", "cutoff_frequency_hz": 30000},
                    r"HighpassFilter: parameter 'cutoff_frequency_hz' must be between 0 and 22050 at 44100 Hz, "
                    r"got 30000"),
        "layout": ({"type": "plugin", "path": latency, "layout": "sideways"},
                   r"stage 1: .*layout must be one of auto, direct, per-channel, average, left, got 'sideways'"),
    }
    if (broken_plugins / "crash.vst3").exists():
        cases["crash"] = ({"type": "plugin", "path": str(broken_plugins / "crash.vst3")},
                          r"stage 1: cannot load plugin .*crash.vst3: crashed while loading \(SIGSEGV\)")
    for name, (stage, message) in cases.items():
        chain = _chain_file(tmp_path / f"{name}.json", [stage, {"type": "Gain", "gain_db": 0}])
        out = tmp_path / f"{name}.wav"
        assert main(["render", str(tmp_path / "in.wav"), str(out), "--chain", str(chain), "-q"]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("cak: error: "), (name, err)
        assert re.search(message, err), (name, err)
        assert not out.exists() and not list(tmp_path.glob(f".{name}.wav*")), f"{name}: nothing rendered half"
    with pytest.raises(StageError, match=r"^stage 1: Silent has no audio input and output cak can run"):
        Chain([PluginStage(Silent())]).prepare(RATE, 256, 2)


def test_latency_is_measured_again_at_prepare():
    """Resample's latency follows its quality; each prepare measures it anew, so the chain stays
    aligned after the parameter changes (a smooth pulse comes out where it went in)."""
    resample = Resample(8000, quality=Resample.Quality.Linear)
    chain = Chain([resample])
    t = np.arange(RATE // 2)
    pulse = np.exp(-0.5 * ((t - 10000) / 40.0) ** 2).astype(np.float32)[None, :]
    latencies = []
    for quality in (Resample.Quality.Linear, Resample.Quality.WindowedSinc):
        resample.quality = quality
        out = chain(pulse, RATE)
        latencies.append(chain.latency_samples)
        assert _lag(out[0], pulse[0]) == 0
    print(f"Resample(8000) latency: Linear {latencies[0]}, WindowedSinc {latencies[1]} samples")
    assert latencies[0] != latencies[1]



def test_saved_state_loads_from_a_moved_plugin(tmp_path: Path, plugins_dir: Path) -> None:
    """A plugin's identity ignores where its file is: a chain saved with one copy of a plugin
    loads with a copy elsewhere (pedalboard's identifier hashes the path), not with another plugin."""
    import shutil

    moved = tmp_path / "moved" / "d_parameters.vst3"
    shutil.copytree(plugins_dir / "d_parameters.vst3", moved)
    _chain_file(tmp_path / "chain.json", [{"type": "plugin", "path": str(plugins_dir / "d_parameters.vst3")}])
    assert main(["chain", "save", str(tmp_path / "chain.json"), str(tmp_path / "saved.json")]) == 0
    saved = json.loads((tmp_path / "saved.json").read_text())
    saved["stages"][0]["path"] = str(moved)
    (tmp_path / "moved.json").write_text(json.dumps(saved))
    assert load_chain(tmp_path / "moved.json").stages[0].plugin.identifier != saved["stages"][0]["identifier"]
    saved["stages"][0]["path"] = str(plugins_dir / "d_states.vst3")
    (tmp_path / "other.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="the state was saved from plugin"):
        load_chain(tmp_path / "other.json")
