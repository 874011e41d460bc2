"""Decoding and writing beside the processing (cak_dsp.io_threads): same blocks, same order,
failures carried to the caller, no thread left behind; and a file render that uses them writes
the very bytes of one that does not."""
from __future__ import annotations

import contextlib
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pedalboard import HighpassFilter

import cak_dsp.file_render as file_render
from cak_dsp import Cak, Chain, Preset, render_file
from cak_dsp.io_threads import read_ahead, write_behind

HELPERS = ("cak-read-ahead", "cak-write-behind")


def _helpers_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in HELPERS]


def test_read_ahead_gives_every_item_in_order_and_stays_within_its_depth() -> None:
    drawn = []

    def items():
        for i in range(50):
            drawn.append(i)
            yield i

    got = []
    for item in read_ahead(items(), depth=3):
        time.sleep(0.001)
        assert len(drawn) <= len(got) + 1 + 3 + 1  # the one handed over, three waiting, one being drawn
        got.append(item)
    assert got == list(range(50))
    assert not _helpers_alive()


def test_read_ahead_raises_the_items_error_where_it_happened() -> None:
    def items():
        yield 1
        yield 2
        raise ValueError("in.wav: cannot read audio (bad block)")

    got = []
    with pytest.raises(ValueError, match="bad block"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]
    assert not _helpers_alive()


def test_closing_read_ahead_early_stops_drawing() -> None:
    drawn = []

    def endless():
        while True:
            drawn.append(len(drawn))
            yield drawn[-1]

    with contextlib.closing(read_ahead(endless(), depth=2)) as items:
        assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert not _helpers_alive()
    stopped_at = len(drawn)
    time.sleep(0.3)
    assert len(drawn) == stopped_at <= 5 + 2 + 1


def test_write_behind_writes_every_item_in_order() -> None:
    written = []
    with write_behind(lambda item: (time.sleep(0.001), written.append(item)), depth=2) as put:
        for i in range(40):
            put(i)
    assert written == list(range(40))  # all written once the with ends
    assert not _helpers_alive()


def test_a_failed_write_is_raised_to_the_caller_and_nothing_after_it_is_written() -> None:
    written = []
    full = OSError(28, "No space left on device")

    def write(item: int) -> None:
        if item == 3:
            raise full
        written.append(item)

    with pytest.raises(OSError) as caught, write_behind(write) as put:
        for i in range(100):
            put(i)
    assert caught.value is full
    assert written == [0, 1, 2]
    assert not _helpers_alive()


def test_leaving_write_behind_by_an_exception_stops_the_writer_and_keeps_that_exception() -> None:
    started = threading.Event()
    written = []

    def slow(item: int) -> None:
        started.set()
        time.sleep(0.05)
        written.append(item)

    with pytest.raises(KeyboardInterrupt), write_behind(slow, depth=4) as put:
        for i in range(6):
            put(i)
        started.wait(5)
        raise KeyboardInterrupt
    assert not _helpers_alive()
    assert len(written) < 6  # the waiting items were dropped
    assert written == list(range(len(written)))


@pytest.mark.parametrize("depth", [0, -1])
def test_depth_must_be_positive(depth: int) -> None:
    with pytest.raises(ValueError, match="depth must be at least 1"):
        next(read_ahead(iter([1]), depth=depth))
    with pytest.raises(ValueError, match="depth must be at least 1"), write_behind(print, depth=depth):
        pass


@pytest.mark.parametrize(("name", "first_stage_is_cak"), [("out.wav", True), ("out.flac", False)])
def test_render_with_io_beside_writes_the_same_bytes(tmp_path: Path, synthetic_preset: Preset,
                                                     monkeypatch: pytest.MonkeyPatch, name: str,
                                                     first_stage_is_cak: bool) -> None:
    """Both passes of a level-matched render (the second decodes the file again when CAK is not
    the first stage) and the writing, on threads of their own or inline: identical files."""
    src = tmp_path / "in.wav"
    rng = np.random.default_rng(3)
    sf.write(str(src), (0.2 * rng.standard_normal((5 * file_render.BLOCK + 1234, 2))).astype(np.float32), 44100,
             subtype="PCM_24")
    outputs = {}
    for beside in (False, True):
        monkeypatch.setattr(file_render, "usable_cores", lambda beside=beside: 2 if beside else 1)
        stages = [Cak(synthetic_preset, 0.7, level="match")]
        if not first_stage_is_cak:
            stages.insert(0, HighpassFilter(60))
        seen = set()
        dst = tmp_path / f"{beside}-{name}"
        render_file(src, dst, Chain(stages), threads=2, progress=lambda _n: seen.update(_helpers_alive()))
        assert seen == (set(HELPERS) if beside else set())
        assert not _helpers_alive()
        outputs[beside] = dst.read_bytes()
    assert outputs[True] == outputs[False]


def test_one_thread_means_no_helper_threads(tmp_path: Path, synthetic_preset: Preset) -> None:
    """A folder worker renders with threads=1: on one core, nothing beside it."""
    src = tmp_path / "in.wav"
    sf.write(str(src), np.zeros((3 * file_render.BLOCK, 2), np.float32), 44100)
    seen = set()
    render_file(src, tmp_path / "out.wav", Chain([Cak(synthetic_preset, 0.7)]), threads=1,
                progress=lambda _n: seen.update(_helpers_alive()))
    assert seen == set()


def test_an_interrupt_during_a_render_with_io_beside_leaves_nothing(tmp_path: Path, synthetic_preset: Preset,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_render, "usable_cores", lambda: 2)
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(str(src), np.zeros((6 * file_render.BLOCK, 2), np.float32), 44100)
    calls = []

    def interrupt(_n: int) -> None:
        calls.append(_n)
        if len(calls) == 8:  # in the second pass, with blocks waiting to be written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_file(src, dst, Chain([HighpassFilter(60), Cak(synthetic_preset, 0.8)]), threads=2, progress=interrupt)
    assert not _helpers_alive()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav"]
