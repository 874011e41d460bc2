"""Non-finite samples never cross a plugin stage (cak_dsp.guard): NaN input reaches a plugin as
silence, a plugin that emits NaN is silenced and reset with its latency kept, and each is
reported once (Chain.repairs, printed by cak render)."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from pedalboard import Reverb

from cak_cli import main
from cak_dsp import SAMPLE_LIMIT, Chain, PluginStage

RATE = 44100


class BlowUp:
    """Stands in for a plugin whose state can go bad (a filter blowing up): it holds ``delay``
    samples back (as pedalboard does for a plugin that reports latency), multiplies by ``gain``,
    and from an input sample above ``SPIKE`` on emits NaN until it is reset."""

    name = "BlowUp"
    SPIKE = 10.0

    def __init__(self, delay: int = 0, gain: float = 1.0) -> None:
        self.delay, self.gain = delay, gain
        self.resets = -1
        self.reset()

    def reset(self) -> None:
        self.poisoned = False
        self.pending = None
        self.resets += 1

    def process(self, block, sample_rate, buffer_size=None, reset=True):
        if reset:
            self.reset()
        if self.pending is None or self.pending.shape[0] != block.shape[0]:
            self.pending = np.zeros((block.shape[0], 0), np.float32)
        joined = np.concatenate([self.pending, block], axis=1)
        ready = max(joined.shape[1] - self.delay, 0)
        out, self.pending = joined[:, :ready].copy(), joined[:, ready:]
        self.poisoned |= bool(np.any(block > self.SPIKE))
        return np.full_like(out, np.nan) if self.poisoned else out * self.gain


def _noise(seconds: float = 1.0) -> np.ndarray:
    return np.random.default_rng(5).uniform(-0.5, 0.5, (2, int(seconds * RATE))).astype(np.float32)


@pytest.mark.parametrize("delay", [0, 300])
def test_plugin_that_emits_nan_is_silenced_reset_and_keeps_its_latency(delay: int) -> None:
    audio = _noise()
    spike = RATE // 2
    audio[0, spike] = 2 * BlowUp.SPIKE
    plugin = BlowUp(delay=delay)
    chain = Chain([PluginStage(plugin)])
    out = chain(audio, RATE)
    stage = chain.stages[0]
    assert stage.latency_samples == delay
    assert np.all(np.isfinite(out)) and out.shape == audio.shape
    assert stage.resets == 1 and stage.repaired_output > 0
    # before the block that blew up: the input, aligned; from the next block on (the plugin
    # reset, what it held replaced by silence): the input again, aligned
    block = 1 << 14  # Chain's offline block
    np.testing.assert_array_equal(out[:, :block - delay], audio[:, :block - delay])
    assert np.all(out[:, block - delay:2 * block] == 0)
    np.testing.assert_array_equal(out[:, 2 * block:], audio[:, 2 * block:])
    lines = chain.repairs()
    assert len(lines) == 1 and lines[0].startswith("stage 1 (BlowUp): the plugin produced ") \
        and "NaN or infinite sample(s); silenced, and the plugin reset 1 time(s)" in lines[0], lines


def test_one_nan_before_a_reverb_no_longer_silences_the_rest() -> None:
    audio = _noise(2.0)
    clean = Chain([Reverb()])(audio, RATE)
    audio[0, 1000] = np.nan
    chain = Chain([Reverb()])
    out = chain(audio, RATE)
    assert np.all(np.isfinite(out))
    last = slice(-RATE, None)
    assert np.sqrt(np.mean(out[:, last] ** 2)) > 0.5 * np.sqrt(np.mean(clean[:, last] ** 2))
    assert chain.repairs() == ["stage 1 (Reverb): 1 NaN or infinite input sample(s) silenced"]
    assert np.isnan(audio[0, 1000]), "the caller's array is only read"


def test_absurd_plugin_output_is_clamped() -> None:
    out = Chain([PluginStage(BlowUp(gain=1e30))])(_noise(0.2), RATE)
    assert np.abs(out).max() == SAMPLE_LIMIT


def test_repairs_count_the_last_stream_only() -> None:
    chain = Chain([Reverb()])
    audio = _noise(0.5)
    audio[1, 10] = np.inf
    chain(audio, RATE)
    assert len(chain.repairs()) == 1
    chain(_noise(0.5), RATE)
    assert chain.repairs() == []


def test_cak_render_prints_the_repair_once(tmp_path, capsys) -> None:
    audio = _noise(1.0)
    audio[:, 5000:5100] = np.nan
    sf.write(tmp_path / "in.wav", audio.T, RATE, subtype="FLOAT")
    (tmp_path / "chain.json").write_text('{"format": "cak-chain", "version": 1, "stages": [{"type": "Reverb"}]}')
    assert main(["render", str(tmp_path / "in.wav"), str(tmp_path / "out.wav"), "--chain",
                 str(tmp_path / "chain.json"), "--quiet"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "NaN" in line]
    assert err == [f"cak render: {tmp_path / 'in.wav'}: stage 1 (Reverb): 200 NaN or infinite input sample(s) "
                   "silenced"], err
    written, _ = sf.read(tmp_path / "out.wav", dtype="float32")
    assert np.all(np.isfinite(written)) and np.abs(written[-RATE // 2:]).max() > 0


def test_engine_nonfinite_output_is_silenced_counted_and_reported(synthetic_preset) -> None:
    """No shipped or valid preset makes the engine compute NaN (its gains are bounded), so one is
    forced here by poisoning a prepared engine's normalization constant."""
    from cak_dsp import Cak

    chain = Chain([Cak(synthetic_preset, texture=1.0)])
    chain.prepare(RATE, 4096, 2)
    chain.stages[0].engine._fp[0] = np.nan  # alpha
    out = np.concatenate(list(chain.stream([_noise(0.5)])), axis=1)
    assert np.all(np.isfinite(out)) and out.shape == (2, RATE // 2)
    assert chain.stages[0].nonfinite_samples > 0
    lines = chain.repairs()
    assert len(lines) == 1 and lines[0].startswith("stage 1 (Cak): ") and "NaN or infinite output sample(s) " \
        "silenced (check the preset's numbers)" in lines[0], lines
