"""The terminal side of ``cak live``: a one-line status that rewrites itself, and the summary.

Everything here runs on the main thread from :meth:`LiveHost.snapshot`, never in the callback.
"""
from __future__ import annotations

import math

from .stream import LiveHost, Snapshot


def _db(peak: float) -> str:
    return "  -inf" if peak <= 0 else f"{20 * math.log10(peak):+6.1f}"


def status_line(snap: Snapshot) -> str:
    """``in -12.0/-11.8 dB  out ...  drums  c 0.80->1.20  mix 100%  load 4%  xruns 0  latency 2787 (58.1 ms)``
    (``BYPASS`` after the mix while bypassed)."""
    ins = "/".join(_db(float(p)) for p in snap.in_peak)
    outs = "/".join(_db(float(p)) for p in snap.out_peak)
    texture = f"c {snap.texture:.2f}"
    if abs(snap.texture - snap.texture_target) > 1e-3:
        texture += f"->{snap.texture_target:.2f}"
    mix = f"mix {100 * snap.mix:3.0f}%" + ("  BYPASS" if snap.bypass else "")
    program = f"{snap.program}  " if snap.program else ""
    return (f"in {ins} dB  out {outs} dB  {program}{texture}  {mix}  "
            f"load {100 * snap.load_last:3.0f}%  xruns {snap.xruns}  "
            f"latency {snap.latency_samples} ({snap.latency_ms:.1f} ms)")


def summary_text(host: LiveHost) -> str:
    """The end-of-run report: callbacks, xruns by kind, callback time p50/p99/max, latency."""
    s = host.summary()
    lines = [f"{s['callbacks']} callbacks, {s['xruns']} xruns (input underflow {s['input_underflow']}, "
             f"input overflow {s['input_overflow']}, output underflow {s['output_underflow']}, "
             f"output overflow {s['output_overflow']})"]
    if "callback_p50_ms" in s:
        period_ms = 1e3 * s["block_frames"] / host.samplerate
        lines.append(f"callback time p50 {s['callback_p50_ms']:.3f} ms, p99 {s['callback_p99_ms']:.3f} ms, "
                     f"max {s['callback_max_ms']:.3f} ms; block {s['block_frames']} ({period_ms:.2f} ms), "
                     f"p99 load {100 * s['load_p99']:.1f}%")
    lines.append(f"latency: engine {s['engine_latency_samples']} + stream (PortAudio's estimate) "
                 f"{sum(host.stream_latency_samples)} = {s['latency_samples']} samples "
                 f"({1e3 * s['latency_samples'] / host.samplerate:.1f} ms)")
    return "\n".join(lines)
