"""Shared fixtures: presets (the shipped published kernel and a synthetic kernel), real drum audio."""
from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from cak_dsp import CakEngine, Preset
from cak_dsp.presets import resolve_preset

from .jack_harness import PERIOD, JackServer, PlayRecord

# The published checkpoint, beside the checkout; only tests of importing the .pt file need it.
REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"
DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")


@pytest.fixture(scope="session")
def published_preset() -> Preset:
    """The published kernel as shipped, ``presets/published.json`` (no torch, no ../shared needed;
    ``tests/test_preset.py`` checks it equals a fresh import of the checkpoint)."""
    return resolve_preset("published")


@pytest.fixture(scope="session")
def synthetic_preset() -> Preset:
    """A strong, sign-mixed random kernel that exercises every tap (no torch needed)."""
    rng = np.random.default_rng(1234)
    return Preset(
        name="synthetic", weight=rng.normal(0.0, 0.4, (3, 3)), bias=-0.05, scale=0.9, threshold=0.3,
        temperature=20.0, alpha=10.0, global_low=0.0, global_high=4.2, gamma=0.85,
        provenance={"method": "test fixture: seeded random kernel"},
    )


@pytest.fixture(params=["published", "synthetic"])
def preset(request: pytest.FixtureRequest) -> Preset:
    return request.getfixturevalue(f"{request.param}_preset")


@pytest.fixture(scope="session")
def drums() -> np.ndarray:
    """A few seconds of real drum hits (hydrogen-drumkits), mono float32 at 44.1 kHz, peak 1.0."""
    sf = pytest.importorskip("soundfile")
    files = sorted(DRUMKITS.glob("*/*.flac"))
    if not files:
        pytest.skip("hydrogen-drumkits not installed (apt-get install hydrogen-drumkits)")
    pieces = []
    for path in files[::max(1, len(files) // 12)][:12]:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
        if rate == 44100:
            pieces.append(audio.mean(axis=1)[: 44100 // 2])
    clip = np.concatenate(pieces)
    return (clip / np.abs(clip).max()).astype(np.float32)


def stream(engine: CakEngine, audio: np.ndarray, blocks: Iterable[int],
           on_block: Callable[[int], None] | None = None) -> np.ndarray:
    """Push ``audio`` (channels, n) through ``engine`` in the given block sizes, then flush.

    Returns the output aligned to the input (latency removed), same length.
    ``on_block(start)`` runs before each block (e.g. to move the texture knob).
    """
    outputs, start = [], 0
    blocks = iter(blocks)
    while start < audio.shape[1]:
        size = min(next(blocks), audio.shape[1] - start)
        if on_block is not None:
            on_block(start)
        outputs.append(engine.process(audio[:, start:start + size]).copy())
        start += size
    outputs.append(engine.flush())
    latency = engine.latency_samples
    return np.concatenate(outputs, axis=1)[:, latency:latency + audio.shape[1]]


@pytest.fixture
def run_stream() -> Callable[..., np.ndarray]:
    return stream


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """A ``jackd -n cak-test-PID -d dummy -r 48000 -p 256`` for the session (``set_period`` to change)."""
    if shutil.which("jackd") is None:
        pytest.skip("jackd not installed (apt-get install --no-install-recommends jackd2 libportaudio2)")
    pytest.importorskip("jack", reason="JACK-Client not installed (pip install 'cak[test]')")
    previous = {key: os.environ.get(key) for key in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    server = JackServer(f"cak-test-{os.getpid()}")
    os.environ.update(JACK_DEFAULT_SERVER=server.name, JACK_NO_START_SERVER="1")
    server.start(PERIOD)
    try:
        yield server
    finally:
        server.stop()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def jack_io(jack_server: JackServer) -> Callable[[int], PlayRecord]:
    """``jack_io(channels)`` -> the session's :class:`PlayRecord` for that many channels."""
    return jack_server.play_record
