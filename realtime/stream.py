"""The live host: a sounddevice duplex stream whose callback runs :class:`cak_dsp.CakEngine`.

::

    host = LiveHost(LiveConfig(preset=resolve_preset("drums"), texture=0.8, blocksize=64))
    with host:                       # prepares, warms, gc.freeze(), starts the stream
        host.texture = 1.2           # any thread; glides there (one-pole, ``smoothing_ms``)
        print(host.snapshot())       # peaks, c, load, xruns, latency
    print(host.summary())            # callback time p50/p99/max over the whole run

Real-time discipline. Everything the callback touches is allocated, compiled and warmed
before the stream starts, then ``gc.freeze()`` moves the setup's objects out of the
collector's reach. The callback runs the engine in place on ``outdata``, the jitted dry/wet
mixer, and bookkeeping into preallocated numpy arrays: no locks, no prints, no I/O; stream
status flags are counted, not printed. Control values (texture, mix, gain) are single float64
slots written by other threads and read once per block.
"""
from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass

import numpy as np

from cak_dsp import TEXTURE_RANGE, CakEngine, Preset

from .devices import LiveError, check_settings, find_device, sounddevice
from .mixer import DryWetMixer

MAX_DRIVER_BLOCK = 8192
TIMING_SLOTS = 1 << 17
# slots of the status-flag counters
CALLBACKS, SAMPLES, INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW = range(6)
_FLAGS = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")


@dataclass
class LiveConfig:
    """What ``cak live`` opens. ``blocksize=0`` lets the driver choose; ``latency`` is
    ``"low"``, ``"high"`` or seconds (PortAudio's suggested latency); ``output_gain`` is linear."""

    preset: Preset
    texture: float = 0.8
    mode: str = "transparent"
    input_device: int | str | None = None
    output_device: int | str | None = None
    channels: int = 2
    samplerate: int | None = None
    blocksize: int = 0
    latency: str | float = "low"
    mix: float = 1.0
    output_gain: float = 1.0
    smoothing_ms: float = 20.0


@dataclass
class Snapshot:
    """One look at a running host (peaks are maxima since the previous snapshot)."""

    texture: float
    texture_target: float
    mix: float
    gain: float
    in_peak: np.ndarray
    out_peak: np.ndarray
    callbacks: int
    xruns: int
    load_last: float
    latency_samples: int
    samplerate: int

    @property
    def latency_ms(self) -> float:
        return 1000.0 * self.latency_samples / self.samplerate


class LiveHost:
    """Owns the engine, the mixer, the stream and the callback's bookkeeping."""

    def __init__(self, config: LiveConfig) -> None:
        lo, hi = TEXTURE_RANGE
        if not lo <= config.texture <= hi:
            raise ValueError(f"texture must be between {lo} and {hi}, got {config.texture}")
        if config.blocksize < 0:
            raise ValueError(f"blocksize must be 0 (driver's choice) or positive, got {config.blocksize}")
        self.config = config
        sd = sounddevice()
        self._sd = sd
        self.input_device = find_device(config.input_device, "input")
        self.output_device = find_device(config.output_device, "output")
        rate = config.samplerate or int(sd.query_devices(self.output_device)["default_samplerate"])
        check_settings(self.input_device, self.output_device, config.channels, rate)
        self.samplerate = rate
        self.max_block = config.blocksize or MAX_DRIVER_BLOCK
        self.engine = CakEngine(config.preset, mode=config.mode)
        self.engine.prepare(rate, self.max_block, config.channels)
        self.engine.texture = config.texture
        self.mixer = DryWetMixer(config.channels, self.engine.latency_samples, config.mix, config.output_gain)
        self._target = np.array([config.texture], np.float64)
        self._tau_samples = max(config.smoothing_ms, 0.0) * 1e-3 * rate
        self.counters = np.zeros(6, np.int64)
        self.callback_ns = np.zeros(TIMING_SLOTS, np.int64)
        self.block_frames = np.zeros(TIMING_SLOTS, np.int64)
        self._stream = None
        self._stream_latency = (0, 0)
        self._stopping = False

    # -- controls (any thread) -------------------------------------------------------------
    @property
    def texture(self) -> float:
        """The texture the engine is using now (it glides towards ``texture_target``)."""
        return self.engine.texture

    @texture.setter
    def texture(self, value: float) -> None:
        self.set_texture(value)

    def set_texture(self, value: float) -> None:
        """Set the texture target (clamped to the engine's range); lock-free, from any thread."""
        lo, hi = TEXTURE_RANGE
        self._target[0] = min(max(float(value), lo), hi)

    @property
    def texture_target(self) -> float:
        return float(self._target[0])

    # -- the audio callback -------------------------------------------------------------------
    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, _time, status) -> None:
        start = time.perf_counter_ns()
        counters = self.counters
        if status:
            for slot, name in enumerate(_FLAGS, start=INPUT_UNDERFLOW):
                if getattr(status, name):
                    counters[slot] += 1
        self._glide(frames)
        dry, wet = indata.T, outdata.T
        if frames <= self.max_block:
            self.engine.process(dry, out=wet)
        else:
            for at in range(0, frames, self.max_block):
                self.engine.process(dry[:, at:at + self.max_block], out=wet[:, at:at + self.max_block])
        self.mixer.process(dry, wet)
        slot = counters[CALLBACKS] % TIMING_SLOTS
        self.block_frames[slot] = frames
        self.callback_ns[slot] = time.perf_counter_ns() - start
        counters[CALLBACKS] += 1
        counters[SAMPLES] += frames

    def _glide(self, frames: int) -> None:
        """Move the engine's texture one block towards the target (one-pole, snaps when close)."""
        current, target = self.engine.texture, self._target[0]
        if current == target:
            return
        step = target - current
        if abs(step) > 1e-4 and self._tau_samples > 0:
            step *= 1.0 - math.exp(-frames / self._tau_samples)
        self.engine.texture = current + step

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open and start the duplex stream (everything is prepared; the collector is frozen)."""
        sd = self._sd
        try:
            self._stream = sd.Stream(
                samplerate=self.samplerate, blocksize=self.config.blocksize,
                device=(self.input_device, self.output_device), channels=self.config.channels,
                dtype="float32", latency=self.config.latency, callback=self._callback,
                prime_output_buffers_using_stream_callback=False)
        except sd.PortAudioError as exc:
            raise LiveError(f"cannot open the audio stream: {exc}") from None
        self._stopping = False
        gc.collect()
        gc.freeze()
        self._stream_latency = tuple(int(round(s * self.samplerate)) for s in self._stream.latency)
        self._stream.start()

    def stop(self) -> None:
        """Stop and close the stream (safe to call twice)."""
        self._stopping = True
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        gc.unfreeze()

    def __enter__(self) -> LiveHost:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    def check_alive(self) -> None:
        """Raise :class:`LiveError` if the stream stopped without being asked (device lost)."""
        if self._stream is not None and not self._stopping and not self._stream.active:
            self.stop()
            raise LiveError("the audio device stopped delivering audio (device lost or sound server gone); "
                            "stream closed")

    # -- reporting ---------------------------------------------------------------------------
    @property
    def stream_latency_samples(self) -> tuple[int, int]:
        """PortAudio's reported (input, output) latency in samples, for the last stream opened."""
        return self._stream_latency

    @property
    def total_latency_samples(self) -> int:
        """Engine latency plus the stream's reported input and output latency."""
        return self.engine.latency_samples + sum(self.stream_latency_samples)

    @property
    def samples_processed(self) -> int:
        """Samples through the engine since the stream started (the engine's frame grid starts at 0)."""
        return int(self.counters[SAMPLES])

    @property
    def xruns(self) -> int:
        return int(self.counters[INPUT_UNDERFLOW:].sum())

    def snapshot(self) -> Snapshot:
        """Current state; resets the peak meters."""
        n = int(self.counters[CALLBACKS])
        load = 0.0
        if n:
            slot = (n - 1) % TIMING_SLOTS
            load = self.callback_ns[slot] * 1e-9 * self.samplerate / max(int(self.block_frames[slot]), 1)
        in_peak, out_peak = self.mixer.in_peak.copy(), self.mixer.out_peak.copy()
        self.mixer.in_peak.fill(0)
        self.mixer.out_peak.fill(0)
        return Snapshot(self.texture, self.texture_target, self.mixer.mix, self.mixer.gain, in_peak, out_peak,
                        n, self.xruns, load, self.total_latency_samples, self.samplerate)

    def callback_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(durations in seconds, block periods in seconds) of the most recent callbacks."""
        n = min(int(self.counters[CALLBACKS]), TIMING_SLOTS)
        return self.callback_ns[:n] * 1e-9, self.block_frames[:n] / self.samplerate

    def summary(self) -> dict:
        """Callback statistics for the run: counts, xruns, time p50/p99/max and load p99."""
        seconds, periods = self.callback_times()
        result = {"callbacks": int(self.counters[CALLBACKS]), "xruns": self.xruns,
                  **{name: int(self.counters[slot]) for slot, name in enumerate(_FLAGS, start=INPUT_UNDERFLOW)},
                  "latency_samples": self.total_latency_samples,
                  "engine_latency_samples": self.engine.latency_samples}
        if seconds.size:
            p50, p99 = np.percentile(seconds, [50, 99])
            result.update(callback_p50_ms=1e3 * p50, callback_p99_ms=1e3 * p99,
                          callback_max_ms=1e3 * seconds.max(),
                          load_p99=float(np.percentile(seconds / periods, 99)),
                          block_frames=int(np.median(self.block_frames[:seconds.size])))
        return result
