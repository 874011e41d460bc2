"""Rendering audio files through a chain, streamed block by block with pedalboard.io.

A file is read, processed and written in blocks of ``BLOCK`` samples, so an hour of audio
never sits in memory; the chain's latency is removed on the way, so the output lines up with
the input sample for sample and has the same length (plus ``tail`` seconds when asked). A
chain with a ``level="match"`` CAK stage reads the file twice: the first pass measures (and,
when CAK is the chain's first stage, keeps its engine's output for the second, up to a few
minutes' worth, so the engine runs once). The
output is written to a temporary file beside its final name and renamed only when complete:
an interrupted render (Ctrl-C, crash, full disk) leaves nothing under the final name, and the
input is only ever read.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .automation import Automation
from .chain import Chain
from .channel_threads import default_threads
from .errors import first_line

BLOCK = 1 << 15
READ_FORMATS = (".aif", ".aiff", ".flac", ".mp3", ".ogg", ".wav")
WRITE_FORMATS = (".aiff", ".flac", ".mp3", ".ogg", ".wav")
BIT_DEPTHS = (16, 24, 32)
_FILE_BITS = {"int8": 16, "int16": 16, "int24": 24, "int32": 24, "float32": 32, "float64": 32}


@dataclass(frozen=True)
class RenderReport:
    """What a file render did: the file pair, rates, length and chain latency removed."""

    source: Path
    destination: Path
    sample_rate: int
    channels: int
    samples: int
    latency_samples: int


def check_paths(src: Path, dst: Path, force: bool) -> None:
    """Refuse outputs that would overwrite the input, or an existing file without ``force``."""
    if not src.is_file():
        raise FileNotFoundError(f"{src}: no such input file")
    if dst.exists() and dst.resolve() == src.resolve():
        raise FileExistsError(f"{dst}: output would overwrite the input; choose another output path")
    if dst.exists() and not force:
        raise FileExistsError(f"{dst}: already exists; pass --force to overwrite it")
    if dst.suffix.lower() not in WRITE_FORMATS:
        raise ValueError(f"{dst}: unknown output format '{dst.suffix}'; use one of: "
                         f"{', '.join(f.lstrip('.') for f in WRITE_FORMATS)}")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"{dst.parent}: output folder does not exist")


def render_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], chain: Chain,
                texture: float | Automation | None = None, tail: float = 0.0, sample_rate: int | None = None,
                bit_depth: int | None = None, force: bool = False,
                progress: Callable[[int], None] | None = None,
                on_length: Callable[[int], None] | None = None, threads: int | None = None) -> RenderReport:
    """Render ``src`` through ``chain`` into ``dst`` (format from its extension).

    ``texture`` is one value or an :class:`Automation` for every CAK stage (None: the chain's
    own). ``tail`` keeps that many seconds of reverb or delay tail. ``sample_rate`` resamples
    the input (pedalboard) and runs the chain at that rate; ``bit_depth`` (16, 24 or 32 float)
    defaults to the input's. ``on_length`` hears the number of samples to come, ``progress``
    the samples done per block. ``threads`` splits each CAK stage's channels over that many
    threads (None: one per channel, at most one per core; 1 for one core; the output is the same).
    """
    from pedalboard.io import AudioFile

    src, dst = Path(src), Path(dst)
    check_paths(src, dst, force)
    if bit_depth is not None and bit_depth not in BIT_DEPTHS:
        raise ValueError(f"bit depth must be one of {', '.join(map(str, BIT_DEPTHS))}, got {bit_depth}")
    try:
        source = AudioFile(str(src))
    except (ValueError, RuntimeError, OSError) as exc:
        raise ValueError(f"{src}: cannot read audio ({first_line(exc)})") from None
    with source:
        if source.frames == 0:
            raise ValueError(f"{src}: empty audio file (0 samples)")
        rate = int(sample_rate or round(source.samplerate))
        reader = source if rate == source.samplerate else source.resampled_to(float(rate))
        channels = source.num_channels
        depth = bit_depth or _FILE_BITS.get(source.file_dtype, 24)
        if dst.suffix.lower() == ".flac":
            depth = min(depth, 24)
        n = int(reader.frames)
        for stage in chain.cak_stages:
            stage.threads = default_threads(channels) if threads is None else int(threads)
        chain.prepare(rate, BLOCK, channels)
        if on_length is not None:
            on_length(n + int(round(tail * rate)) + (n if chain.measures_level else 0))
        latency = chain.latency_samples
        automation = None
        if isinstance(texture, Automation):
            automation = texture.at(rate)
        elif texture is not None:
            chain.texture = float(texture)
        if chain.measures_level:
            chain.measure_levels(_counted(_blocks(reader, src), progress), automation, replay=tail == 0)
            reader.seek(0)
        with atomic_path(dst) as tmp:
            with AudioFile(str(tmp), "w", rate, channels, bit_depth=depth) as sink:
                for block in chain.stream(_blocks(reader, src), automation, int(round(tail * rate))):
                    sink.write(np.clip(block, -1.0, 1.0) if depth < 32 else block)
                    if progress is not None:
                        progress(block.shape[1])
        chain.reset()
    return RenderReport(src, dst, rate, channels, n, latency)


def _counted(blocks: Iterator[np.ndarray], progress: Callable[[int], None] | None) -> Iterator[np.ndarray]:
    for block in blocks:
        if progress is not None:
            progress(block.shape[1])
        yield block


def _blocks(reader, src: Path) -> Iterator[np.ndarray]:
    while True:
        try:
            block = reader.read(BLOCK)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ValueError(f"{src}: cannot read audio ({first_line(exc)})") from None
        if block.shape[1] == 0:
            return
        yield block
