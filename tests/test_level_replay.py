"""A level-matched render keeps the first pass's engine output and replays it: same output, one
engine pass."""
from __future__ import annotations

import numpy as np
import pytest

from cak_dsp import Cak, Chain, Preset


def _two_passes(chain: Chain, audio: np.ndarray, curve: np.ndarray | None) -> np.ndarray:
    automation = None if curve is None else (lambda start, count: curve[start:start + count])
    chain.prepare(44100, 1 << 14, audio.shape[0])
    chain.measure_levels([audio], automation, replay=False)
    return np.concatenate(list(chain.stream([audio], automation)), axis=1)


@pytest.mark.parametrize("automated", [False, True])
def test_replayed_render_is_the_two_pass_render(published_preset: Preset, automated: bool) -> None:
    audio = (0.3 * np.random.default_rng(3).standard_normal((2, 3 * 44100))).astype(np.float32)
    curve = np.linspace(0.2, 1.4, audio.shape[1]) if automated else None
    expected = _two_passes(Chain([Cak(published_preset, 0.9)]), audio, curve)
    stage = Cak(published_preset, 0.9)
    calls = []
    for name in ("process", "process_automated", "flush"):
        original = getattr(stage.engine, name)
        setattr(stage.engine, name, lambda *a, _f=original, _n=name, **k: (calls.append(_n), _f(*a, **k))[1])
    got = Chain([stage])(audio, 44100, texture=curve)
    assert np.array_equal(got, expected)
    assert stage.match_gain != 1.0
    engine_blocks = sum(1 for c in calls if c != "flush")
    assert engine_blocks == -(-audio.shape[1] // (1 << 14))  # one pass over the blocks, not two
    assert calls.count("flush") == 1


def test_no_replay_with_a_tail_or_behind_another_stage(published_preset: Preset) -> None:
    from pedalboard import Gain

    audio = (0.3 * np.random.default_rng(4).standard_normal((1, 44100))).astype(np.float32)
    with_tail = Chain([Cak(published_preset, 0.9)])(audio, 44100, tail=1000)
    plain = Chain([Cak(published_preset, 0.9)])(audio, 44100)
    assert with_tail.shape == (1, 45100)
    assert np.array_equal(with_tail[:, :40000], plain[:, :40000])  # the tail changes only the last frames
    behind = Chain([Gain(0.0), Cak(published_preset, 0.9)])
    assert np.array_equal(behind(audio, 44100), plain)
    assert behind.stages[1]._replay is None


def test_replay_refuses_a_different_stream(published_preset: Preset) -> None:
    audio = (0.3 * np.random.default_rng(5).standard_normal((1, 44100))).astype(np.float32)
    chain = Chain([Cak(published_preset, 0.9)])
    chain.prepare(44100, 1 << 14, 1)
    chain.measure_levels([audio], replay=True)
    with pytest.raises(RuntimeError, match="differs from the measured one"):
        list(chain.stream([audio[:, :1000]]))


@pytest.mark.parametrize("soft_clip", [True, False])
def test_output_stage_shortcuts_give_the_same_samples(soft_clip: bool) -> None:
    """The output stage's shortcuts (the one-pole stops at its fixed point under one texture;
    in-place blocks take the vector loop) give the samples of its plain per-sample path: a
    constant texture given as a per-sample curve (stride 1), written to another array."""
    from cak_dsp.level import OutputStage

    rng = np.random.default_rng(5)
    blocks = [(0.8 * rng.standard_normal((2, n))).astype(np.float32) for n in (4096, 30000, 1, 777)]
    knob = np.array([0.9])
    fixed, plain = (OutputStage(0.3, 20.0, soft_clip=soft_clip) for _ in range(2))
    for stage in (fixed, plain):
        stage.prepare(44100, 30000, 2, 2558, warm=False)
        stage.gain = 0.7
    for block in blocks:
        in_place = block.copy()
        fixed.process(in_place, in_place, knob, 0)
        separate = np.empty_like(block)
        plain.process(block, separate, np.full(block.shape[1], knob[0]), 1)
        assert np.array_equal(in_place, separate)
    assert fixed._state[0] == plain._state[0] > 0.0


@pytest.mark.parametrize("automated", [False, True])
def test_replaying_file_render_decodes_the_input_once(published_preset: Preset, tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                      automated: bool) -> None:
    """A file render whose first CAK stage replays its kept output reads the file once (the
    second pass gets silence of the first pass's block lengths); the output is that of the
    render that keeps nothing and reads the file twice."""
    import soundfile as sf

    from cak_dsp import cak_stage, file_render, render_file
    from cak_dsp.automation import Automation

    src = tmp_path / "in.wav"
    audio = 0.3 * np.random.default_rng(4).standard_normal((2, 3 * file_render.BLOCK + 1234))
    sf.write(src, audio.T, 44100, subtype="PCM_24")
    knob = Automation(np.array([0.0, 1.0]), np.array([0.3, 1.5])) if automated else None
    reads = []
    original = file_render._blocks
    monkeypatch.setattr(file_render, "_blocks", lambda *a: (reads.append(1), original(*a))[1])
    render_file(src, tmp_path / "replayed.wav", Chain([Cak(published_preset, 0.9)]), texture=knob, threads=1)
    assert len(reads) == 1
    monkeypatch.setattr(cak_stage, "KEEP_BYTES", 0)
    render_file(src, tmp_path / "read-twice.wav", Chain([Cak(published_preset, 0.9)]), texture=knob, threads=1)
    assert len(reads) == 3
    assert (tmp_path / "replayed.wav").read_bytes() == (tmp_path / "read-twice.wav").read_bytes()
