"""Round-trip latency and callback time of ``cak live`` against the JACK period (dummy driver, 48 kHz).

For each geometry (``standard``, ``low-latency``) and each period from 16 to 2048 frames the
script starts its own ``jackd -d dummy`` (the test harness's :class:`tests.jack_harness.JackServer`),
runs a :class:`cak_realtime.stream.LiveHost` with the shipped drums preset on the driver's block
(``--blocksize 0``, stereo, c = 0.8) and:

* times every callback for ``--seconds`` (no other client in the graph meanwhile);
* then measures the round trip between JACK ports with ``jack_iodelay`` wired through the host
  at c = 0 (where the engine is the identity, so its signal passes whole): ``jack_delay:out`` into
  the host's first input, the host's first output into ``jack_delay:in``; the median of its
  readings once they are steady;
* splits that round trip into the engine's part (``latency_samples``, the same at every period)
  and the audio I/O's (the rest: the periods JACK and PortAudio buffer), and prints beside it the
  total ``cak live`` reports (engine + PortAudio's estimate);
* reads xruns from jackd's log: cycles JACK says the host did not finish, and its own timer's.

Prints a table and writes ``results/latency_vs_blocksize.png`` (latency against the period per
geometry, with its parts; callback p99 as a share of the period) and ``.json``. Targets: callback
p99 <= 20 % of the period at 64 frames and <= 40 % at 32 (standard geometry). Nothing here asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jack_harness import RATE, JackServer  # noqa: E402

BLOCKS = (16, 32, 64, 128, 256, 512, 1024, 2048)
GEOMETRIES = ("standard", "low-latency")
_IODELAY = re.compile(r"([\d.]+) frames\s+[\d.]+ ms total roundtrip latency")


def iodelay_round_trip(server: JackServer, seconds: float = 4.0) -> int | None:
    """The round trip ``jack_iodelay`` measures through the host's first input and output (frames),
    or None when it reports no steady value within ``seconds``."""
    env = {**os.environ, "JACK_DEFAULT_SERVER": server.name}
    # line-buffered, so each reading arrives as it is printed
    probe = subprocess.Popen(["stdbuf", "-oL", "jack_iodelay"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    readings: list[float] = []

    def read() -> None:
        for line in probe.stdout:
            if match := _IODELAY.search(line):
                readings.append(float(match.group(1)))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        client = server.client
        host_in = client.get_ports("PortAudio.*:in_", is_audio=True, is_input=True)[0]
        host_out = client.get_ports("PortAudio.*:out_", is_audio=True, is_output=True)[0]
        for other in client.get_all_connections(host_in):
            client.disconnect(other, host_in)
        for source, destination in (("jack_delay:out", host_in.name), (host_out.name, "jack_delay:in")):
            for _ in range(100):  # jack_iodelay registers its two ports one after the other
                try:
                    client.connect(source, destination)
                    break
                except server._jack.JackError:
                    time.sleep(0.05)
            else:
                return None
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(readings) < 12:
            time.sleep(0.1)
        steady = readings[len(readings) // 2:]  # the first readings may predate the connections
        return int(round(float(np.median(steady)))) if steady else None
    finally:
        probe.terminate()
        probe.wait(timeout=5)
        reader.join(timeout=5)


def measure(server: JackServer, geometry: str, block: int, seconds: float) -> dict:
    from cak_dsp.presets import resolve_preset
    from cak_realtime.stream import LiveConfig, LiveHost

    server.set_period(block)
    host = LiveHost(LiveConfig(preset=resolve_preset("drums"), texture=0.8, channels=2, samplerate=RATE,
                               geometry=geometry))
    before = server.xrun_report()
    with host:
        time.sleep(seconds)
        after = server.xrun_report()
        timing = host.summary()
        host.texture = 0.0
        time.sleep(0.3)
        round_trip = iodelay_round_trip(server)
    period_ms = 1e3 * block / RATE
    engine = host.latency_samples
    return {"geometry": geometry, "block": block, "period_ms": period_ms, "engine_latency": engine,
            "reported_latency": host.total_latency_samples, "round_trip": round_trip,
            "audio_io": None if round_trip is None else round_trip - engine, "callbacks": timing["callbacks"],
            "p50_ms": timing["callback_p50_ms"], "p99_ms": timing["callback_p99_ms"], "max_ms": timing["callback_max_ms"],
            "p99_share": timing["callback_p99_ms"] / period_ms,
            "host_overruns": after.get("PortAudio", 0) - before.get("PortAudio", 0),
            "timer_xruns": after["driver"] - before["driver"], "portaudio_flagged": timing["xruns"]}


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    geometries = list(dict.fromkeys(r["geometry"] for r in rows))
    fig, axes = plt.subplots(1, len(geometries) + 1, figsize=(5.5 * (len(geometries) + 1), 4.2))
    for ax, geometry in zip(axes, geometries):
        mine = [r for r in rows if r["geometry"] == geometry]
        blocks = [r["block"] for r in mine]
        ms = 1e3 / RATE
        measured = [(r["block"], r["round_trip"] * ms) for r in mine if r["round_trip"] is not None]
        if measured:
            ax.plot(*zip(*measured), "s-", color="C0", label="round trip (jack_iodelay)")
        ax.plot(blocks, [r["engine_latency"] * ms for r in mine], "--", color="C2", label="engine's part")
        io = [(r["block"], r["audio_io"] * ms) for r in mine if r["audio_io"] is not None]
        if io:
            ax.plot(*zip(*io), "^:", color="C1", label="audio I/O's part")
        ax.plot(blocks, [r["reported_latency"] * ms for r in mine], "x", color="k", label="cak live reports")
        ax.set(xscale="log", yscale="log", xlabel="JACK period (frames)", ylabel="latency (ms)",
               title=f"{geometry} geometry, 48 kHz")
        ax.set_xticks(blocks, [str(b) for b in blocks])
        ax.legend(fontsize=8)
    right = axes[-1]
    for i, geometry in enumerate(geometries):
        mine = [r for r in rows if r["geometry"] == geometry]
        right.plot([r["block"] for r in mine], [100 * r["p99_share"] for r in mine], "s-", color=f"C{i}",
                   label=f"p99, {geometry}")
        right.plot([r["block"] for r in mine], [100 * r["p50_ms"] / r["period_ms"] for r in mine], "o:",
                   color=f"C{i}", label=f"median, {geometry}")
    right.axhline(20, color="grey", lw=0.8, ls="--", label="target p99 at 64: 20 %")
    right.axhline(40, color="grey", lw=0.8, ls=":", label="target p99 at 32: 40 %")
    right.set(xscale="log", yscale="log", xlabel="JACK period (frames)", ylabel="callback time (% of period)",
              title="callback time / period")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed seconds per period (default 10)")
    parser.add_argument("--blocks", type=int, nargs="+", default=list(BLOCKS), help="JACK periods to measure")
    parser.add_argument("--geometries", nargs="+", default=list(GEOMETRIES), choices=GEOMETRIES,
                        help="engine geometries to measure (default both)")
    args = parser.parse_args()
    server = JackServer(f"cak-bench-{os.getpid()}")
    os.environ.update(JACK_DEFAULT_SERVER=server.name, JACK_NO_START_SERVER="1")
    server.start(args.blocks[0])
    try:
        rows = [measure(server, geometry, block, args.seconds) for geometry in args.geometries for block in args.blocks]
    finally:
        server.stop()
    print(f"{'geometry':>11} {'block':>6} {'period ms':>9} {'engine':>6} {'audio io':>8} {'round trip':>10} "
          f"{'reported':>8} {'p50 us':>7} {'p99 us':>7} {'max us':>7} {'p99 %':>6} {'overruns':>8} {'timer xr':>8}")
    for r in rows:
        print(f"{r['geometry']:>11} {r['block']:>6} {r['period_ms']:>9.3f} {r['engine_latency']:>6} "
              f"{r['audio_io'] if r['audio_io'] is not None else 'n/a':>8} "
              f"{r['round_trip'] if r['round_trip'] is not None else 'n/a':>10} {r['reported_latency']:>8} "
              f"{1e3 * r['p50_ms']:>7.0f} {1e3 * r['p99_ms']:>7.0f} {1e3 * r['max_ms']:>7.0f} "
              f"{100 * r['p99_share']:>6.1f} {r['host_overruns']:>8} {r['timer_xruns']:>8}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "latency_vs_blocksize.json").write_text(json.dumps(rows, indent=2))
    plot(rows, results / "latency_vs_blocksize.png")
    print(f"wrote {results / 'latency_vs_blocksize.png'} and .json")


if __name__ == "__main__":
    main()
