"""What the studio's page costs: server CPU at 30 meter pushes a second, and the audio callback.

On its own ``jackd -d dummy`` (48 kHz, period 256; the test harness's
:class:`tests.jack_harness.JackServer`) the script runs, for ``--seconds`` each:

* ``live``: a :class:`cak_realtime.stream.LiveHost` with the shipped drums preset, as ``cak live``
  runs it (no page);
* ``studio, no page``: a :class:`cak_realtime.studio.session.Studio` playing a drum loop through
  the same host, its aiohttp server up with no page connected;
* ``studio, page``: the same with a client in another process holding the WebSocket and
  receiving the meters and spectrogram columns (what the page gets, without the browser's
  drawing).

Server CPU is this process's CPU time (user + system) over the window minus the audio
callback's own CPU time, in percent of one core; it includes what the JACK and PortAudio threads
spend around the callback, which ``live`` shows alone, so the page's own cost is the column
"above live". Callback p99 is the host's callback wall time.
Prints a table and writes ``results/studio_load.json``. Target: the page's server CPU (above
live) below 3 % of one core; callback p99 with the page within noise of ``live``. Nothing here asserts.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.jack_harness import RATE, JackServer  # noqa: E402

CLIENT = """
import asyncio, json, sys, time, aiohttp
async def main(url, origin, seconds):
    count = 0
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={"Origin": origin}) as ws:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                message = await ws.receive(timeout=5)
                count += json.loads(message.data)["type"] == "meters"
    print(count)
asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def window(host, seconds: float, during=None) -> dict:
    """Callback statistics and the CPU not spent in the callback, over ``seconds``."""
    start_wall, start_cpu, start_callbacks = time.monotonic(), cpu_seconds(), int(host.counters[0])
    start_callback_cpu = int(host.callback_cpu_ns.sum())
    if during is not None:
        result = during()
    else:
        time.sleep(seconds)
        result = None
    callbacks = int(host.counters[0]) - start_callbacks
    callback_cpu = (int(host.callback_cpu_ns.sum()) - start_callback_cpu) * 1e-9
    other = cpu_seconds() - start_cpu - callback_cpu
    elapsed = time.monotonic() - start_wall
    times = host.callback_ns[max(int(host.counters[0]) - callbacks, 0):int(host.counters[0])] * 1e-9
    return {"callbacks": callbacks, "callback_p99_ms": 1e3 * float(np.percentile(times, 99)) if times.size else 0.0,
            "server_cpu_percent": 100 * other / elapsed, "received": result, "seconds": elapsed}


def run_live(seconds: float) -> dict:
    from cak_dsp.presets import resolve_preset
    from cak_realtime.stream import LiveConfig, LiveHost

    host = LiveHost(LiveConfig(preset=resolve_preset("drums"), texture=0.8, channels=2, samplerate=RATE))
    with host:
        time.sleep(1.0)
        return window(host, seconds)


def run_studio(seconds: float, loop_file: Path) -> tuple[dict, dict]:
    from cak_realtime.studio.server import SWITCH_INTERVAL_S, StudioServer
    from cak_realtime.studio.session import Studio, StudioOptions

    with tempfile.TemporaryDirectory() as workdir:
        studio = Studio(StudioOptions(file=loop_file, samplerate=RATE, output_dir=Path(workdir)), Path(workdir))
        studio.start()
        studio.transport("play")
        loop = asyncio.new_event_loop()
        server = StudioServer(studio)
        runner, port = loop.run_until_complete(server.start(0))
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        previous = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        thread.start()
        try:
            time.sleep(1.0)
            idle = window(studio.host, seconds)
            base = f"http://127.0.0.1:{port}"

            def client() -> int:
                out = subprocess.run([sys.executable, "-c", CLIENT, f"{base}/ws?token={server.token}", base,
                                      str(seconds)], capture_output=True, text=True, check=True)
                return int(out.stdout)

            page = window(studio.host, seconds, during=client)
        finally:
            asyncio.run_coroutine_threadsafe(server.close(runner), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            studio.close()
            sys.setswitchinterval(previous)
        return idle, page


def drum_loop(folder: Path) -> Path:
    import soundfile as sf
    from scipy.signal import resample_poly

    from tests.materials import drums

    path = folder / "loop.wav"
    sf.write(path, resample_poly(drums(8.0), 160, 147).astype(np.float32), RATE, subtype="FLOAT")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measurement (default 20)")
    args = parser.parse_args()
    server = JackServer(f"cak-bench-{os.getpid()}")
    os.environ.update(JACK_DEFAULT_SERVER=server.name, JACK_NO_START_SERVER="1")
    server.start(256)
    try:
        with tempfile.TemporaryDirectory() as folder:
            loop_file = drum_loop(Path(folder))
            rows = {"live": run_live(args.seconds)}
            rows["studio, no page"], rows["studio, page"] = run_studio(args.seconds, loop_file)
    finally:
        server.stop()
    print(f"{'case':<18} {'callbacks':>9} {'callback p99 ms':>16} {'CPU % of a core':>16} {'above live':>11} "
          f"{'meters/s':>9}")
    for name, row in rows.items():
        rate = f"{row['received'] / args.seconds:.1f}" if row["received"] is not None else "-"  # the client's time
        row["above_live_percent"] = row["server_cpu_percent"] - rows["live"]["server_cpu_percent"]
        print(f"{name:<18} {row['callbacks']:>9} {row['callback_p99_ms']:>16.3f} {row['server_cpu_percent']:>16.2f} "
              f"{row['above_live_percent']:>11.2f} {rate:>9}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "studio_load.json").write_text(json.dumps({"seconds": args.seconds, "rows": rows}, indent=2))
    print(f"wrote {results / 'studio_load.json'}")


if __name__ == "__main__":
    main()
