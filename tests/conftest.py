"""Shared fixtures: presets (the shipped published kernel and a synthetic kernel), real drum audio,
the JACK server, and VST3 plugins (the real test plugins and broken ones)."""
from __future__ import annotations

import os
import shutil
import subprocess
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
PLUGINS_DIR = Path(__file__).resolve().parents[2] / "shared" / "plugins"


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


@pytest.fixture(autouse=True)
def _jack_default_period(request: pytest.FixtureRequest) -> Iterator[None]:
    """A live test that changes the JACK period (``set_period``) gets the session's default back
    afterwards, so the tests after it run at the period they were written for, not at 64 frames."""
    server = request.getfixturevalue("jack_server") if "jack_server" in request.fixturenames else None
    yield
    if server is not None and server.period != PERIOD:
        server.set_period(PERIOD)


@pytest.fixture
def jack_io(jack_server: JackServer) -> Callable[[int], PlayRecord]:
    """``jack_io(channels)`` -> the session's :class:`PlayRecord` for that many channels."""
    return jack_server.play_record


@pytest.fixture(scope="session")
def plugins_dir() -> Path:
    """The real VST3 test plugins (DPF examples: d_latency mono with 1 s latency, d_parameters and
    d_states stereo); see ../shared/plugins/README.md."""
    if not all((PLUGINS_DIR / f"{name}.vst3").exists() for name in ("d_latency", "d_parameters", "d_states")):
        pytest.skip(f"the VST3 test plugins are not in {PLUGINS_DIR} (a user's machine has its own plugins)")
    return PLUGINS_DIR


@pytest.fixture(scope="session")
def broken_plugins(tmp_path_factory) -> Path:
    """A folder with a plugin file of garbage and, where gcc exists, a plugin whose shared
    library crashes the process that loads it (SIGSEGV in a constructor)."""
    folder = tmp_path_factory.mktemp("broken")
    garbage = folder / "garbage.vst3" / "Contents" / "x86_64-linux"
    garbage.mkdir(parents=True)
    (garbage / "garbage.so").write_bytes(np.random.default_rng(0).bytes(4096))
    if shutil.which("gcc"):
        crash = folder / "crash.vst3" / "Contents" / "x86_64-linux"
        crash.mkdir(parents=True)
        source = folder / "crash.c"
        source.write_text("#include <signal.h>\n__attribute__((constructor)) static void boom(void) "
                          "{ raise(SIGSEGV); }\nvoid *GetPluginFactory(void) { return 0; }\n")
        subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(crash / "crash.so"), str(source)], check=True)
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that load the external VST3 plugins are marked ``vst3`` (run apart by ``make test``)."""
    for item in items:
        if "plugins_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.vst3)
