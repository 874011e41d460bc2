"""Offline rendering with the channels on threads is the one-engine render, bit for bit."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import Cak, Chain, Preset, render
from cak_dsp.channel_threads import ThreadedEngine, default_threads


@pytest.mark.parametrize("channels, threads", [(2, 2), (3, 2), (5, 3)])
def test_threaded_render_is_the_single_engine_render(published_preset: Preset, channels: int, threads: int) -> None:
    rng = np.random.default_rng(channels)
    audio = (0.3 * rng.standard_normal((channels, 3 * 44100))).astype(np.float32)
    curve = np.linspace(0.0, 1.5, audio.shape[1])
    for texture in (0.8, curve):
        one = render(audio, 44100, published_preset, texture, threads=1)
        many = render(audio, 44100, published_preset, texture, threads=threads)
        assert np.array_equal(one, many)
        assert np.abs(one - audio).max() > 1e-3  # the effect is there


@pytest.mark.parametrize("channels", [2, 3])
@pytest.mark.parametrize("level", ["match", "follow", "off"])
def test_threaded_chain_is_the_one_engine_chain(published_preset: Preset, level: str, channels: int) -> None:
    """Each group of channels runs its sums, engine and output stage on its thread (the
    follower, which sums over every channel, on this one): the same samples, except that the
    match gain's sums add up in another order (its last bits)."""
    audio = (0.3 * np.random.default_rng(7).standard_normal((channels, 2 * 44100))).astype(np.float32)
    stages = {threads: Cak(published_preset, 0.9, level=level, threads=threads) for threads in (1, 2)}
    outs = {threads: Chain([stage])(audio, 44100) for threads, stage in stages.items()}
    assert isinstance(stages[2].engine, ThreadedEngine)
    assert stages[2].match_gain == pytest.approx(stages[1].match_gain, rel=1e-12)
    if level == "match":
        assert np.abs(outs[1] - outs[2]).max() <= 1e-6
    else:
        assert np.array_equal(outs[1], outs[2])
    assert np.abs(outs[1] - audio).max() > 1e-3  # the effect is there


def test_default_threads_never_exceed_channels() -> None:
    assert default_threads(1) == 1
    assert 1 <= default_threads(2) <= 2
