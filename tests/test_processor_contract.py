"""Every processor implements one contract (``cak_dsp.processor.Processor``): prepare, any block
sizes, flush, reset, a fixed latency and the texture knob, with streaming equal to one long call."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from pedalboard import HighpassFilter, Reverb

from cak_dsp import Cak, CakEngine, Chain, PluginStage, Preset
from cak_dsp.fbe import EqualizerStage, FilterBankEqualizer
from cak_dsp.processor import Processor
from cak_realtime.programs import ProgramBank

RATE, MAX_BLOCK, CHANNELS = 44100, 512, 2


def _makers(preset: Preset) -> dict[str, Callable[[], Processor]]:
    causal = Preset(**{**preset.__dict__, "name": "causal", "weight": preset.weight * [1, 1, 0]})
    return {
        "engine": lambda: CakEngine(preset),
        "filter-bank equalizer": lambda: FilterBankEqualizer(preset),
        "equalizer stage (follow)": lambda: EqualizerStage(preset, level="follow"),
        "cak stage (follow)": lambda: Cak(preset, level="follow"),
        "cak stage (off, no soft clip)": lambda: Cak(preset, level="off", soft_clip=False),
        "plugin stage": lambda: PluginStage(HighpassFilter(120)),
        "chain": lambda: Chain([HighpassFilter(80), Cak(preset, level="follow"), Reverb(room_size=0.3)]),
        "program bank": lambda: ProgramBank([preset, causal]),
    }


def _run(processor: Processor, audio: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Stream ``audio`` in blocks of ``sizes``, flush, and return the output aligned to the input."""
    out, at, i = [], 0, 0
    while at < audio.shape[1]:
        block = np.ascontiguousarray(audio[:, at:at + int(sizes[i % sizes.size])])
        out.append(processor.process(block, np.empty_like(block)).copy())
        at += block.shape[1]
        i += 1
    out.append(processor.flush())
    latency = processor.latency_samples
    return np.concatenate(out, axis=1)[:, latency:latency + audio.shape[1]]


@pytest.mark.parametrize("kind", ["engine", "filter-bank equalizer", "equalizer stage (follow)", "cak stage (follow)", "cak stage (off, no soft clip)", "plugin stage",
                                  "chain", "program bank"])
def test_processor_contract(synthetic_preset: Preset, kind: str) -> None:
    processor = _makers(synthetic_preset)[kind]()
    processor.prepare(RATE, MAX_BLOCK, CHANNELS)
    assert isinstance(processor, Processor)
    latency = processor.latency_samples
    assert isinstance(latency, int) and latency >= 0
    processor.texture = 1.1
    assert processor.texture == pytest.approx(1.1) or kind == "plugin stage"
    rng = np.random.default_rng(5)
    audio = (0.3 * rng.standard_normal((CHANNELS, RATE))).astype(np.float32)
    whole = _run(processor, audio, np.array([MAX_BLOCK]))
    processor.reset()
    # pedalboard reads a block as (samples, channels) when it has fewer samples than channels
    smallest = CHANNELS + 1 if kind in ("plugin stage", "chain") else 1
    pieces = _run(processor, audio, rng.integers(smallest, MAX_BLOCK + 1, 500))
    assert whole.shape == pieces.shape == audio.shape
    assert np.all(np.isfinite(whole))
    assert np.abs(pieces - whole).max() <= 1e-5, "any block sizes give the same output"
    processor.reset()
    again = _run(processor, audio, np.array([MAX_BLOCK]))
    assert np.array_equal(again, whole), "reset returns to silence"
    if kind != "plugin stage":
        assert np.abs(whole - audio).max() > 1e-3, "the texture changes the sound"
