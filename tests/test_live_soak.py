"""Staying real-time: a minute of live processing at small JACK periods with a CPU hog running.

Runs by default (about 2 x 60 s); ``CAK_SKIP_SOAK=1`` skips it and ``CAK_SOAK_SECONDS`` shortens
it. What the host controls is asserted: it kept up with JACK's clock, and callbacks needed no more
CPU time than their period (the callback thread's own CPU clock, which a preempted thread does not
advance), at the 99.9th percentile: on a virtual machine a few callbacks a minute are charged
hypervisor steal the guest cannot tell from work (seen: 8.9 ms for a 0.3 ms callback).
JACK's own verdict is printed: at every cycle jackd checks that each client finished
the previous one and logs "client = NAME was not finished" when it did not. On a shared virtual
machine that also happens when the OS never ran the real-time thread in time ("Triggered": not
started), and the dummy driver logs xruns of its own timer with no client at all (about once a
second at a 64-frame period here), which PortAudio reports as underflow flags. On a dedicated
machine set ``CAK_STRICT_SOAK=1`` to also require that JACK never blames the host.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from cak_dsp.presets import resolve_preset
from cak_realtime.stream import LiveConfig, LiveHost
from .jack_harness import RATE

SECONDS = float(os.environ.get("CAK_SOAK_SECONDS", "60"))
STRICT = bool(os.environ.get("CAK_STRICT_SOAK"))
pytestmark = [pytest.mark.live, pytest.mark.soak,
              pytest.mark.skipif(bool(os.environ.get("CAK_SKIP_SOAK")), reason="CAK_SKIP_SOAK is set")]


@pytest.fixture
def cpu_hog():
    """A process spinning on the last CPU (the audio threads run at JACK's real-time priority)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                           preexec_fn=lambda: os.sched_setaffinity(0, {max(os.sched_getaffinity(0))}))
    yield hog
    hog.kill()
    hog.wait()


@pytest.mark.timeout(SECONDS + 120)
@pytest.mark.parametrize("block", [64, 32])
def test_a_minute_without_overrunning_a_cycle(jack_server, cpu_hog, block):
    """Stereo, shipped drums preset, c = 0.8, 48 kHz, JACK period ``block``. 32 is the smallest
    period the engine handles: the callback that computes a frame (two 2232-point FFTs and the
    normalization, every 557 samples) takes about 250 us, 75 % of a 16-frame period (333 us),
    which the dummy driver accepts but the engine cannot keep to on a shared machine."""
    jack_server.set_period(block)  # a fresh server: no Python test clients in the graph
    host = LiveHost(LiveConfig(preset=resolve_preset("drums"), texture=0.8, channels=2, samplerate=RATE))
    before = jack_server.xrun_report()
    with host:
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            time.sleep(0.5)
            host.check_alive()
    after = jack_server.xrun_report()
    s = host.summary()
    blamed, triggered = (after.get(key, 0) - before.get(key, 0) for key in ("PortAudio", "PortAudio/Triggered"))
    print(f"\nblock {block} ({1e3 * block / RATE:.3f} ms), {SECONDS:.0f} s with a CPU hog: {s['callbacks']} callbacks, "
          f"callback p50 {1e3 * s['callback_p50_ms']:.0f} us, p99 {1e3 * s['callback_p99_ms']:.0f} us, "
          f"max {1e3 * s['callback_max_ms']:.0f} us (p99 load {100 * s['load_p99']:.1f} %); callback CPU time p99 "
          f"{1e3 * s['cpu_p99_ms']:.0f} us, max {1e3 * s['cpu_max_ms']:.0f} us ({100 * s['cpu_load_max']:.1f} % of "
          f"its period, p99.9 {100 * s['cpu_load_p999']:.1f} %; {s['cpu_over_period']} over it); cycles JACK says the host "
          f"overran: {blamed}; PortAudio-flagged callbacks {s['xruns']}; JACK timer xruns "
          f"{after['driver'] - before['driver']}")
    assert s["callbacks"] >= 0.9 * SECONDS * RATE / block, "the host did not keep up with JACK's clock"
    # the 99.9th percentile: a few callbacks a minute are charged for what a guest cannot see
    # (hypervisor steal), up to 8.9 ms of "CPU time" for a 0.3 ms callback in a clean CI run
    assert s["cpu_load_p999"] < 1.0, (
        f"the 99.9th percentile callback needed {100 * s['cpu_load_p999']:.0f} % of its period in CPU time")
    assert not STRICT or blamed == 0, (f"JACK reports {blamed} cycles in which the host's callback did not finish in time "
                         f"({triggered} of them not even started: the OS did not schedule the real-time thread; "
                         "with as many timer xruns, the machine stalled: rerun on a quiet machine)")
