"""A real JACK server (dummy backend) for the live tests, plus a sample-accurate player/recorder.

The ``jack_server`` and ``jack_io`` fixtures in ``tests/conftest.py`` use these. The server gets
a unique name, runs for the whole session and is stopped at the end; PortAudio (sounddevice) and
rtmidi's JACK API are pointed at it through ``JACK_DEFAULT_SERVER``.
"""
from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np

RATE = 48000
# tests comparing the live output with an offline render lift the live ceiling (0 dBFS by default)
UNCLAMPED = 24.0
PERIOD = 256
PORTS = 4  # capture and playback ports of the dummy "system" device (input channel selection needs > 2)


def _die_with_parent() -> None:
    """In jackd's process before it runs: the kernel stops it when the thread that started it
    ends, so a test run or a benchmark that is killed (``timeout``, SIGKILL) leaves no real-time
    JACK server running behind it (Linux ``PR_SET_PDEATHSIG``; elsewhere nothing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class JackServer:
    """A ``jackd -d dummy`` for the tests, with PortAudio (sounddevice) pointed at it.

    Two patterns deadlock a JACK client whose process callback is Python code, because JACK
    waits on that callback while the caller holds (or needs) the interpreter lock: deactivating
    the client, and changing the server's buffer size while it runs. So test clients are never
    deactivated while the server runs (``play_record`` hands out one :class:`PlayRecord` per
    channel count), and ``set_period`` restarts the server instead of resizing it: PortAudio is
    shut down, jackd stopped, every client of ours closed, and a fresh jackd started.
    jackd logs every xrun, so its output goes to a file, never to a pipe that could fill and block it.
    """

    def __init__(self, name: str) -> None:
        import jack

        self._jack = jack
        self.name = name
        self.xruns = 0
        self.period = 0
        self.process: subprocess.Popen | None = None
        self.client = None
        self.pool: dict[int, PlayRecord] = {}
        self._log = tempfile.TemporaryFile()

    def start(self, period: int) -> None:
        """Start jackd at ``period`` frames, connect the control client, re-scan PortAudio."""
        self.process = subprocess.Popen(jackd_command(self.name, period), stdout=self._log, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)
        for _ in range(100):
            if self.process.poll() is not None:
                self._log.seek(0)
                raise RuntimeError(f"jackd exited: {self._log.read().decode(errors='replace')[-500:]}")
            try:
                self.client = self._jack.Client("cak-test-control", servername=self.name, no_start_server=True)
                break
            except self._jack.JackOpenError:
                time.sleep(0.05)
        else:
            raise RuntimeError("jackd did not come up within 5 s")
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        self.period = period
        import sounddevice as sd

        sd._terminate()  # PortAudio enumerates JACK at initialization: re-scan now that the server runs
        sd._initialize()

    def stop(self) -> None:
        """Leave PortAudio, stop jackd, then close our clients (each close gets 5 s, in a thread)."""
        import sounddevice as sd

        sd._terminate()
        self.process.terminate()
        self.process.wait(timeout=10)
        clients = [self.client] + [c for io in self.pool.values() for c in (io.player, io.recorder)]
        for client in clients:
            closer = threading.Thread(target=client.close, daemon=True)
            closer.start()
            closer.join(timeout=5)
        self.pool.clear()
        sd._initialize()

    def set_period(self, frames: int) -> None:
        """Run at ``frames`` per period (a restart, see the class docstring)."""
        if frames != self.period:
            self.stop()
            self.start(frames)

    def play_record(self, channels: int) -> PlayRecord:
        if channels not in self.pool:
            self.pool[channels] = PlayRecord(self, channels)
        return self.pool[channels]

    def _xrun(self, _delayed_usecs: float) -> None:
        self.xruns += 1

    def xrun_report(self) -> dict[str, int]:
        """What jackd's log says so far: xruns it blamed on each client ("client = NAME was not
        finished": that client's process callback overran the cycle; also counted per state as
        ``NAME/Triggered``, never started, and ``NAME/Running``) and xruns of its own timer
        ("driver": the dummy driver woke up late, which a loaded or virtual machine causes with
        no client involved)."""
        fd = self._log.fileno()  # jackd shares this file's offset: read without moving it
        text = os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")
        report = {"driver": len(re.findall(r"JackTimedDriver::Process XRun", text))}
        for client, state in re.findall(r"JackEngine::XRun: client = (.+?) was not finished, state = (\w+)", text):
            for key in (client, f"{client}/{state}"):  # Triggered: not scheduled yet; Running: still running
                report[key] = report.get(key, 0) + 1
        return report


def jackd_command(name: str, period: int) -> list[str]:
    """``jackd`` for a dummy server called ``name`` at ``RATE`` and ``period`` frames."""
    return ["jackd", *_scheduling(), "-n", name, "-d", "dummy", "-r", str(RATE), "-p", str(period),
            "-C", str(PORTS), "-P", str(PORTS)]


def _scheduling() -> list[str]:
    """Real-time scheduling where the machine allows it (as a musician's JACK would run), so the
    Python test clients' cycles are not pre-empted by other work; otherwise ``--no-realtime``."""
    allowed = subprocess.run(["chrt", "-f", "10", "true"], capture_output=True).returncode == 0
    return ["-R", "-P", "70"] if allowed else ["--no-realtime"]


def _overlap(track: np.ndarray, at: int, block: np.ndarray, into_block: bool) -> None:
    """Copy between ``block`` (one JACK period starting at track sample ``at``) and ``track``."""
    lo, hi = max(at, 0), min(at + block.size, track.size)
    if lo < hi:
        if into_block:
            block[lo - at:hi - at] = track[lo:hi]
        else:
            track[lo:hi] = block[lo - at:hi - at]


class PlayRecord:
    """Two JACK clients: ``player`` feeds a signal into the host's inputs, ``recorder`` captures
    its outputs. Being separate clients (no feedback loop), they run before and after the host
    in the same JACK cycle, so ``recording[k]`` is the host's output ``k`` samples after the
    signal's first sample entered it: a sample-accurate round trip."""

    def __init__(self, server: JackServer, channels: int) -> None:
        import jack

        self.server = server
        self.player = jack.Client("cak-player", servername=server.name, no_start_server=True)
        self.recorder = jack.Client("cak-recorder", servername=server.name, no_start_server=True)
        self.outs = [self.player.outports.register(f"out_{i}") for i in range(channels)]
        self.ins = [self.recorder.inports.register(f"in_{i}") for i in range(channels)]
        self.signal = np.zeros((channels, 0), np.float32)
        self.recording = np.zeros((channels, 0), np.float32)
        self.t0: int | None = None
        self.armed = False
        self.glitches = 0
        self._next = {"play": None, "record": None}
        self.align: Callable[[], int] | None = None
        self.player.set_process_callback(self._play)
        self.recorder.set_process_callback(self._record)
        self.player.activate()
        self.recorder.activate()

    def _continuous(self, side: str, now: int, frames: int) -> None:
        """Count a glitch when a client's cycles are not back to back (a missed JACK cycle)."""
        expected = self._next[side]
        if expected is not None and now != expected:
            self.glitches += 1
        self._next[side] = now + frames

    def _play(self, frames: int) -> None:
        now = self.player.last_frame_time
        self._continuous("play", now, frames)
        if self.armed and self.t0 is None:
            self.t0 = now + (self.align() if self.align else 0)
        for ch, port in enumerate(self.outs):
            buf = port.get_array()
            buf.fill(0)
            if self.t0 is not None:
                _overlap(self.signal[ch], now - self.t0, buf, into_block=True)

    def _record(self, frames: int) -> None:
        self._continuous("record", self.recorder.last_frame_time, frames)
        t0 = self.t0  # read once: a new take may reset it meanwhile
        if t0 is not None:
            for ch, port in enumerate(self.ins):
                _overlap(self.recording[ch], self.recorder.last_frame_time - t0, port.get_array(), into_block=False)

    def connect(self, client_prefix: str = "PortAudio") -> None:
        """Wire player -> host inputs and host outputs -> recorder, replacing auto-connections
        (recorder channels beyond the host's outputs stay silent)."""
        client = self.server.client
        host_ins = client.get_ports(f"{client_prefix}.*:in_", is_audio=True, is_input=True)
        host_outs = client.get_ports(f"{client_prefix}.*:out_", is_audio=True, is_output=True)
        assert len(host_ins) >= len(self.outs) and host_outs, (host_ins, host_outs)
        for port in host_ins:
            for other in client.get_all_connections(port):
                client.disconnect(other, port)
        for port in host_outs:
            for other in client.get_all_connections(port):
                client.disconnect(port, other)
        for mine, theirs in zip(self.outs, host_ins):
            client.connect(mine.name, theirs.name)
        for mine, theirs in zip(self.ins, host_outs):
            client.connect(theirs.name, mine.name)

    def port_latency(self) -> int:
        """JACK's capture latency at the recorder's input (everything upstream of it), in samples,
        as ``jack_lsp -l`` reports it."""
        listing = subprocess.run(["jack_lsp", "-s", self.server.name, "-l", self.ins[0].name],
                                 capture_output=True, text=True, check=True).stdout
        match = re.search(r"port capture latency = \[ (\d+) (\d+) \]", listing)
        assert match, listing
        return int(match.group(2))

    def play(self, signal: np.ndarray, record: int, align: Callable[[], int] | None = None,
             takes: int = 6, host_samples: Callable[[], int] | None = None,
             before_take: Callable[[], None] | None = None) -> np.ndarray:
        """Play ``signal`` (channels, n) and return ``record`` samples of output from its start.

        The signal starts at the next cycle, or ``align()`` samples later (called in the JACK
        thread at that cycle; e.g. to land on the engine's frame grid). A take during which JACK
        reported an xrun (any client late: on a shared CPU, often these Python test clients) is
        not a measurement, and neither is one in which the player or recorder missed a cycle (their
        frame times not back to back), or one in which the host under test (``host_samples()``: the
        samples it has processed) fell more than two periods behind JACK's clock: it is repeated,
        up to ``takes`` times. ``before_take()`` runs before each take: a repeated take must meet the
        host as the first one did (:func:`fresh_start`), since a level follower or a plugin's delay
        line remembers the take before.
        """
        for _ in range(takes):
            if before_take is not None:
                before_take()
            xruns, glitches = self.server.xruns, self.glitches
            start = (self.player.frame_time, host_samples()) if host_samples else None
            recording = self._take(signal, record, align)
            if start is not None:
                elapsed = self.player.frame_time - start[0]
                if abs((host_samples() - start[1]) - elapsed) > 2 * self.server.period:
                    self.glitches += 1
            if self.server.xruns == xruns and self.glitches == glitches:
                return recording
            time.sleep(0.2)
        raise AssertionError(f"JACK reported xruns or missed cycles in each of {takes} takes")

    def _take(self, signal: np.ndarray, record: int, align: Callable[[], int] | None,
              timeout: float = 30.0) -> np.ndarray:
        self.recording = np.zeros((signal.shape[0], record), np.float32)
        self.signal = np.ascontiguousarray(signal, np.float32)
        self.t0 = None
        self.align = align
        self.armed = True
        deadline = time.monotonic() + timeout
        while self.t0 is None or self.player.frame_time - self.t0 < record + 2 * self.server.period:
            assert time.monotonic() < deadline, "JACK stopped running the test clients"
            time.sleep(0.02)
        self.armed = False
        return self.recording


def fresh_start(host) -> Callable[[], None]:
    """A ``before_take`` for :meth:`JackIO.play`: the live host clears its processor's memory
    (``LiveHost.request_reset``) and the take waits until the callback has done it; the frame grid
    then starts at ``host.reset_at``."""
    def reset() -> None:
        host.request_reset()
        assert wait_until(lambda: not host.reset_pending, 10, poll=0.002), "the host did not reset within 10 s"
    return reset


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, poll: float = 0.01) -> bool:
    """Poll ``predicate`` every ``poll`` seconds until it is true (True) or ``timeout`` passes (False)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(poll)
    return True
