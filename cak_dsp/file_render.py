"""Rendering audio files through a chain, streamed block by block with pedalboard.io.

A file is read, processed and written in blocks of ``BLOCK`` samples, so an hour of audio
never sits in memory; the chain's latency is removed on the way, so the output lines up with
the input sample for sample and has the same length (plus ``tail`` seconds when asked). A
chain with a ``level="match"`` CAK stage takes two passes: the first measures (and, when CAK
is the chain's first stage, keeps its engine's output for the second, up to a few minutes'
worth, so the engine runs and the file is decoded once; else the file is read twice). The
output is written to a temporary file beside its final name and renamed only when complete:
every write and the close are checked, and the temporary file is read back (libsndfile) and
must hold exactly the samples rendered, so a full disk or a file size limit fails the render
and leaves an existing output untouched; an interrupted render (Ctrl-C, crash) leaves nothing
under the final name, and the input is only ever read. A WAV or AIFF input whose data stops
before its header says is refused, never padded with silence.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .automation import Automation
from .chain import Chain
from .channel_threads import default_threads, usable_cores
from .errors import first_line
from .io_threads import read_ahead, write_behind
from .limits import check_channels, check_sample_rate, check_tail

BLOCK = 1 << 16  # samples a block: 1.5 s at 44.1 kHz (each block hands work to the channel threads once)
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
    Unless ``threads`` is 1, on a machine of several cores the file is decoded and written on
    threads of their own, beside the processing (:mod:`~cak_dsp.io_threads`).
    """
    from pedalboard.io import AudioFile

    src, dst = Path(src), Path(dst)
    check_paths(src, dst, force)
    if bit_depth is not None and bit_depth not in BIT_DEPTHS:
        raise ValueError(f"bit depth must be one of {', '.join(map(str, BIT_DEPTHS))}, got {bit_depth}")
    tail = check_tail(tail)
    if sample_rate is not None:
        sample_rate = check_sample_rate(sample_rate, "sample rate")
    try:
        source = AudioFile(str(src))
    except (ValueError, RuntimeError, OSError) as exc:
        raise ValueError(f"{src}: cannot read audio ({first_line(exc)})") from None
    with source:
        if source.frames == 0:
            raise ValueError(f"{src}: empty audio file (0 samples)")
        check_sample_rate(round(source.samplerate), f"{src}: sample rate")
        channels = check_channels(source.num_channels, f"{src}: channel count")
        _check_whole(src, source.frames)
        rate = sample_rate or int(round(source.samplerate))
        reader = source if rate == source.samplerate else source.resampled_to(float(rate))
        depth = bit_depth or _FILE_BITS.get(source.file_dtype, 24)
        if dst.suffix.lower() == ".flac":
            depth = min(depth, 24)
        n = int(reader.frames)
        for stage in chain.cak_stages:
            stage.threads = default_threads(channels) if threads is None else int(threads)
        tail_samples = int(round(tail * rate))
        chain.prepare(rate, BLOCK, channels)
        if on_length is not None:
            on_length(n + tail_samples + (n if chain.measures_level else 0))
        latency = chain.latency_samples
        automation = None
        lengths: list[int] = []
        if isinstance(texture, Automation):
            automation = texture.at(rate)
        elif texture is not None:
            chain.texture = float(texture)
        beside = threads != 1 and usable_cores() > 1
        if chain.measures_level:
            with _reading(reader, src, beside) as blocks:
                chain.measure_levels(_counted(blocks, progress, lengths), automation, replay=tail == 0)
            reader.seek(0)
        with contextlib.ExitStack() as reading:
            blocks = _silence(lengths, channels) if chain.replays_input else \
                reading.enter_context(_reading(reader, src, beside))
            with atomic_path(dst) as tmp:
                written = _write(tmp, dst, chain.stream(blocks, automation, tail_samples), rate, channels, depth,
                                 n + tail_samples, progress, beside)
                _check_complete(tmp, dst, written, n + tail_samples)
        chain.reset()
    return RenderReport(src, dst, rate, channels, n, latency)


def _write(tmp: Path, dst: Path, blocks: Iterator[np.ndarray], rate: int, channels: int, depth: int, frames: int,
           progress: Callable[[int], None] | None, beside: bool = False) -> int:
    """Write ``blocks`` (``frames`` samples expected) to ``tmp``: a WAV file of a size RIFF
    holds with :class:`~cak_dsp.wav_writer.WavWriter`, any other with pedalboard (``beside``:
    on a thread of its own; :meth:`Chain.stream` yields a new array each block). Returns the
    samples written; a failed write or close (full disk, file size limit) raises one line
    naming ``dst``."""
    from pedalboard.io import AudioFile

    from .wav_writer import WavWriter, fits

    written = 0
    own = dst.suffix.lower() == ".wav" and fits(frames, channels, depth)
    try:
        with WavWriter(tmp, rate, channels, depth) if own else \
                AudioFile(str(tmp), "w", rate, channels, bit_depth=depth) as sink, \
                write_behind(sink.write) if beside else contextlib.nullcontext(sink.write) as put:
            for block in blocks:
                put(np.clip(block, -1.0, 1.0) if depth < 32 and not own else block)
                written += block.shape[1]
                if progress is not None:
                    progress(block.shape[1])
    except ValueError as exc:  # a format that cannot take this rate or bit depth
        raise ValueError(f"{dst}: {first_line(exc)}") from None
    except RuntimeError as exc:
        raise _incomplete(dst, f"writing failed: {first_line(exc).rstrip('.')}") from None
    except OSError as exc:
        raise _incomplete(dst, f"writing failed: {exc.strerror or first_line(exc)}") from None
    return written


def _check_complete(tmp: Path, dst: Path, written: int, expected: int) -> None:
    """Refuse to publish ``tmp`` unless the render made ``expected`` samples and the file holds
    them all, read back by libsndfile (which, unlike the writer, notices a short file)."""
    import soundfile as sf

    if written != expected:
        raise _incomplete(dst, f"the render made {written} of {expected} samples")
    try:
        with _c_stderr_silenced(), sf.SoundFile(str(tmp)) as f:
            if tmp.suffix.lower() in (".wav", ".aiff"):
                on_disk = f.frames  # libsndfile counts only the sample frames really present
            else:
                on_disk = 0
                while block := len(f.read(BLOCK, dtype="float32")):
                    on_disk += block
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise _incomplete(dst, f"it does not read back ({first_line(exc).rstrip('.')})") from None
    if on_disk != expected:
        raise _incomplete(dst, f"it holds {on_disk} of {expected} samples")


@contextlib.contextmanager
def _c_stderr_silenced() -> Iterator[None]:
    """Descriptor 2 to /dev/null: libmpg123 prints its warnings about a cut MP3 there itself,
    and the check that reads it back reports in one line of its own."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _incomplete(dst: Path, detail: str) -> OSError:
    return OSError(f"{dst}: output incomplete, {detail} (disk full or a file size limit?); nothing was replaced")


def _check_whole(src: Path, frames: int) -> None:
    """Refuse a WAV or AIFF whose data stops before its header says (a partial copy or download):
    pedalboard would pad it with silence; libsndfile counts the samples really there."""
    import soundfile as sf

    if src.suffix.lower() not in (".wav", ".aif", ".aiff"):
        return
    try:
        present = sf.info(str(src)).frames
    except (RuntimeError, sf.LibsndfileError):
        return  # a file only pedalboard reads: it alone decides
    if present < frames:
        raise ValueError(f"{src}: truncated: its header promises {frames} samples but the file holds {present}; "
                         "refused (repair it or export it again)")


def _counted(blocks: Iterator[np.ndarray], progress: Callable[[int], None] | None,
             lengths: list[int]) -> Iterator[np.ndarray]:
    """``blocks``, telling ``progress`` and appending to ``lengths`` each one's length."""
    for block in blocks:
        if progress is not None:
            progress(block.shape[1])
        lengths.append(block.shape[1])
        yield block


def _silence(lengths: list[int], channels: int) -> Iterator[np.ndarray]:
    """Blocks of silence of the first pass's block ``lengths``, for a stream that reads only
    their lengths (:attr:`Chain.replays_input`), so the input is decoded once."""
    zeros = np.zeros((channels, max(lengths, default=0)), np.float32)
    for length in lengths:
        yield zeros[:, :length]


@contextlib.contextmanager
def _reading(reader, src: Path, beside: bool) -> Iterator[Iterator[np.ndarray]]:
    """The blocks of ``reader`` (``beside``: decoded on a thread of its own, a few ahead); the
    decoding has stopped when the ``with`` ends, so the file can be closed or sought."""
    blocks = _blocks(reader, src)
    with contextlib.closing(read_ahead(blocks) if beside else blocks) as ordered:
        yield ordered


def _blocks(reader, src: Path) -> Iterator[np.ndarray]:
    while True:
        try:
            block = reader.read(BLOCK)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ValueError(f"{src}: cannot read audio ({first_line(exc)})") from None
        if block.shape[1] == 0:
            return
        yield block
