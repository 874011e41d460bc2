"""The live host: a sounddevice duplex stream whose callback runs CAK (or a chain around it).

::

    host = LiveHost(LiveConfig(preset=resolve_preset("drums"), texture=0.8, blocksize=64))
    with host:                       # prepares, warms, gc.freeze(), starts the stream
        host.texture = 1.2           # any thread; glides there (one-pole, ``smoothing_ms``)
        host.set_program(1)          # Program Change: crossfade to ``config.programs[1]``
        host.set_bypass(True)        # 20 ms fade to the latency-compensated dry signal
        print(host.snapshot())       # peaks, c, load, xruns, latency
    print(host.summary())            # callback time p50/p99/max over the whole run

The processor is a :class:`~cak_realtime.programs.ProgramBank` (the preset, plus the presets that
Program Change selects), or a :class:`cak_dsp.Chain` whose first CAK stage runs such a bank.
Either way the callback sees one ``process(block, out)`` with a constant ``latency_samples``,
and the dry path of the mixer is delayed by exactly that.

Sources and taps. ``host.source`` (None: the device input) may be a player that feeds the
processor instead of the device input, e.g. a file (:class:`cak_realtime.studio.player.FilePlayer`);
``host.tap`` (None) may be an object that sees every block's dry input and output (meters,
spectrograms). Both are called in the callback and must follow its discipline: preallocated,
jitted, no locks.

Input channels. ``input_channels`` (1-based device channels, e.g. ``(3, 4)``) opens as many
device inputs as the highest one needs and copies the chosen ones, in the given order, into a
preallocated block in the callback.

Real-time discipline. Everything the callback touches is allocated, compiled and warmed
before the stream starts, then ``gc.freeze()`` moves the setup's objects out of the
collector's reach. The callback runs the processor from the input into ``outdata``, the
jitted dry/wet mixer, and bookkeeping into preallocated numpy arrays: no locks, no prints, no
I/O; stream status flags are counted, not printed. Control values (texture, mix, gain,
bypass, program) are single float64 slots written by other threads and read once per block.

Failures. Every number of a :class:`LiveConfig` is checked before anything opens (one-line
``ValueError`` naming the field and its range). A processor that raises in the callback mutes
the output from that block on (never an exception into PortAudio); :meth:`LiveHost.check_alive`
then reports it in one line and the run stops.
"""
from __future__ import annotations

import atexit
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from cak_dsp import Cak, Chain, Preset
from cak_dsp.arrays import MAX_CHANNELS, SAMPLE_RATE_RANGE
from cak_dsp.errors import first_line
from cak_dsp.level import DEFAULT_LIVE_LEVEL, ceiling_from_db, check_level
from cak_dsp.normalization import DEFAULT_MODE
from cak_dsp.texture import check_texture, clamp_texture

from .devices import LiveError, check_settings, find_device, sounddevice
from .mixer import GAIN_RANGE_DB, DryWetMixer
from .programs import FADE_MS, ProgramBank

MAX_DRIVER_BLOCK = 8192
MAX_LATENCY_S = 2.0  # PortAudio's suggested latency, when given in seconds
MAX_FADE_MS = 10000.0  # bypass, program crossfade and texture glide times
TIMING_SLOTS = 1 << 17
# slots of the status-flag counters
CALLBACKS, SAMPLES, INPUT_UNDERFLOW, INPUT_OVERFLOW, OUTPUT_UNDERFLOW, OUTPUT_OVERFLOW = range(6)
_FLAGS = ("input_underflow", "input_overflow", "output_underflow", "output_overflow")


@njit(cache=True, nogil=True)
def _gather(indata, rows, out):
    """Copy device input columns ``rows`` of ``indata`` (frames, device channels) into ``out``."""
    for ch in range(rows.shape[0]):
        row = rows[ch]
        for i in range(indata.shape[0]):
            out[ch, i] = indata[i, row]


@dataclass
class LiveConfig:
    """What ``cak live`` opens. ``blocksize=0`` lets the driver choose; ``latency`` is
    ``"low"``, ``"high"`` or seconds (PortAudio's suggested latency); ``output_gain`` is linear.

    ``programs`` maps MIDI program numbers to presets that Program Change crossfades to (the
    stream starts on ``preset``). ``chain`` runs a chain instead of the bare engine (its first
    CAK stage is the one programs switch; ``preset`` is then unused). ``input_channels`` are
    1-based device input channels, one per processed channel (default: the first ``channels``).
    ``geometry`` is the engine's frame geometry: ``"standard"`` or ``"low-latency"`` (14.5 ms at
    44.1 kHz, 2.9 ms for a causal preset; see :mod:`cak_dsp.geometry`). ``level`` and
    ``soft_clip`` apply to every CAK stage (None: each stage's own; a stage whose level is
    ``"match"``, which needs the whole file, follows instead: ``"follow"``, see
    :mod:`cak_dsp.level`). No output sample exceeds ``ceiling_db`` dBFS (default 0).
    """

    preset: Preset | None
    texture: float = 0.8
    mode: str = DEFAULT_MODE
    level: str | None = None
    soft_clip: bool | None = None
    ceiling_db: float = 0.0
    geometry: str = "standard"
    input_device: int | str | None = None
    output_device: int | str | None = None
    channels: int = 2
    samplerate: int | None = None
    blocksize: int = 0
    latency: str | float = "low"
    mix: float = 1.0
    output_gain: float = 1.0
    smoothing_ms: float = 20.0
    programs: dict[int, Preset] = field(default_factory=dict)
    chain: Chain | None = None
    input_channels: tuple[int, ...] | None = None
    bypass_ms: float = 20.0
    fade_ms: float = FADE_MS


@dataclass
class Snapshot:
    """One look at a running host (peaks are maxima since the previous snapshot)."""

    texture: float
    texture_target: float
    mix: float
    gain: float
    bypass: bool
    program: str
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


def check_config(config: LiveConfig) -> None:
    """Every number of ``config`` finite and within its range; else a one-line ValueError."""
    check_texture(config.texture, "LiveConfig.texture")
    ceiling_from_db(config.ceiling_db)
    _check_number(config.mix, "mix", 0.0, 1.0)
    top = GAIN_RANGE_DB[1]
    _check_number(config.output_gain, "output_gain", 0.0, 10.0 ** (top / 20.0), f" (linear: up to {top:g} dB)")
    for name in ("smoothing_ms", "bypass_ms", "fade_ms"):
        _check_number(getattr(config, name), name, 0.0, MAX_FADE_MS)
    if config.fade_ms <= 0:
        raise ValueError(f"fade_ms must be more than 0, got {config.fade_ms!r}")
    _check_whole(config.channels, "channels", 1, MAX_CHANNELS)
    _check_whole(config.blocksize, "blocksize", 0, MAX_DRIVER_BLOCK, " (0: the driver's)")
    if config.samplerate is not None:
        _check_whole(config.samplerate, "samplerate", *SAMPLE_RATE_RANGE, " Hz")
    if not isinstance(config.latency, str):
        _check_number(config.latency, "latency", 0.0, MAX_LATENCY_S, " seconds, or 'low' or 'high'")
    elif config.latency not in ("low", "high"):
        raise ValueError(f"latency must be 'low', 'high' or seconds, got {config.latency!r}")
    for row in config.input_channels or ():
        _check_whole(row, "input channel", 1, 1024)


def _check_number(value: object, name: str, low: float, high: float, unit: str = "") -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}{unit}, got {value!r}")
    return number


def _check_whole(value: object, name: str, low: int, high: int, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}{unit}, got {value!r}")
    return int(value)


class LiveHost:
    """Owns the processor, the mixer, the stream and the callback's bookkeeping."""

    def __init__(self, config: LiveConfig) -> None:
        check_config(config)
        if config.preset is None and config.chain is None:
            raise ValueError("give a preset or a chain")
        self.config = config
        sd = sounddevice()
        self._sd = sd
        self.input_device = find_device(config.input_device, "input")
        self.output_device = find_device(config.output_device, "output")
        rate = config.samplerate or int(sd.query_devices(self.output_device)["default_samplerate"])
        rows = config.input_channels
        if rows is not None and len(rows) != config.channels:
            raise ValueError(f"{len(rows)} input channel(s) chosen for {config.channels} processed channel(s)")
        if rows is not None and min(rows) < 1:
            raise ValueError(f"input channels are numbered from 1, got {min(rows)}")
        self.device_inputs = max(rows) if rows is not None else config.channels
        check_settings(self.input_device, self.output_device, self.device_inputs, config.channels, rate)
        self.samplerate = rate
        self.max_block = config.blocksize or MAX_DRIVER_BLOCK
        self.processor, self.bank = self._build_processor(config)
        self.processor.prepare(rate, self.max_block, config.channels)
        # the chain the host built around the preset is one CAK stage and nothing else: run it directly
        self._process = self.processor.stages[0].process if config.chain is None else self.processor.process
        self.processor.texture = config.texture
        self._programs = {} if self.bank is None else {
            number: next(i for i, known in enumerate(self.bank.presets) if known is preset)
            for number, preset in config.programs.items()}
        self.mixer = DryWetMixer(config.channels, self.processor.latency_samples, config.mix, config.output_gain,
                                 bypass_samples=int(config.bypass_ms * 1e-3 * rate),
                                 ceiling=ceiling_from_db(config.ceiling_db))
        self._rows = None if rows is None else np.array([r - 1 for r in rows], np.int64)
        self._input = np.zeros((config.channels, self.max_block), np.float32)
        if self._rows is not None:
            _gather(np.zeros((2, self.device_inputs), np.float32), self._rows, self._input)
        self._target = np.array([config.texture], np.float64)
        self._texture = np.array([config.texture], np.float64)
        self._tau_samples = max(config.smoothing_ms, 0.0) * 1e-3 * rate
        self.counters = np.zeros(6, np.int64)
        self.callback_ns = np.zeros(TIMING_SLOTS, np.int64)
        self.callback_cpu_ns = np.zeros(TIMING_SLOTS, np.int64)
        self.block_frames = np.zeros(TIMING_SLOTS, np.int64)
        self._reset = np.zeros(2, np.int64)  # [requested, samples processed when the last reset ran]
        self.source = None
        self.tap = None
        self._stream = None
        self._abandoned = None
        self._stream_latency = (0, 0)
        self._stopping = False
        self.failure: BaseException | None = None

    @staticmethod
    def _build_processor(config: LiveConfig) -> tuple[Chain, ProgramBank | None]:
        """The chain (a lone CAK stage without one), its CAK stages' level set for live, and the
        bank of the start preset and the program presets inside its first CAK stage."""
        chain = config.chain if config.chain is not None else Chain([Cak(
            config.preset, config.texture, mode=config.mode, level=DEFAULT_LIVE_LEVEL, geometry=config.geometry)])
        for cak in chain.cak_stages:
            cak.level = check_level(config.level, live=True) if config.level is not None else \
                DEFAULT_LIVE_LEVEL if cak.level == "match" else cak.level
            if config.soft_clip is not None:
                cak.soft_clip = config.soft_clip
        stage = next(iter(chain.cak_stages), None)
        if stage is None:
            if config.programs:
                raise ValueError("Program Change needs a CAK stage in the chain")
            return chain, None
        presets = [stage.preset]
        for preset in config.programs.values():
            if not any(preset is known for known in presets):
                presets.append(preset)
        bank = ProgramBank(presets, mode=stage.mode, fade_ms=config.fade_ms, geometry=stage.geometry)
        stage.engine = bank  # the stage runs the bank as its engine (same lifecycle)
        return chain, bank

    # -- controls (any thread) -------------------------------------------------------------
    @property
    def texture(self) -> float:
        """The texture the processor is using now (it glides towards ``texture_target``)."""
        return float(self._texture[0])

    @texture.setter
    def texture(self, value: float) -> None:
        self.set_texture(value)

    def set_texture(self, value: float) -> None:
        """Set the texture target (clamped to the texture range, a live control: see
        :mod:`cak_dsp.texture`); lock-free, from any thread."""
        self._target[0] = clamp_texture(value)

    @property
    def texture_target(self) -> float:
        return float(self._target[0])

    def set_mix(self, value: float) -> None:
        """Wet share 0..1 (clamped); glides over one block."""
        self.mixer.mix = value

    def set_gain_db(self, value: float) -> None:
        """Output gain in dB, clamped to GAIN_RANGE_DB (NaN ignored); glides over one block."""
        value = float(value)
        if not math.isnan(value):
            lo, hi = GAIN_RANGE_DB
            self.mixer.gain = 10.0 ** (min(max(value, lo), hi) / 20.0)

    def set_bypass(self, value: float) -> None:
        """Bypass on when ``value`` is true (>= 0.5): fades to the delay-compensated dry signal."""
        self.mixer.bypass = float(value) >= 0.5

    def setters(self) -> dict[str, Callable[[float], None]]:
        """The MIDI targets: ``texture``, ``mix``, ``gain`` (dB) and ``bypass`` (0/1), plus the
        chain's parameter controls (``hp.cutoff_frequency_hz``; see :mod:`cak_dsp.controls`)."""
        setters = {"texture": self.set_texture, "mix": self.set_mix, "gain": self.set_gain_db,
                   "bypass": self.set_bypass}
        controls = self.config.chain.controls if self.config.chain is not None else None
        if controls is not None:
            setters.update(controls.setters())
        return setters

    def set_program(self, number: int) -> None:
        """MIDI program ``number`` (0..127); crossfades to its preset. Unknown numbers are ignored."""
        index = self._programs.get(int(number))
        if index is not None:
            self.bank.select(index)

    @property
    def program_name(self) -> str:
        """The name of the preset playing now ('' without a CAK stage)."""
        return self.bank.presets[self.bank.active].name if self.bank is not None else ""

    @property
    def latency_samples(self) -> int:
        """The processor's latency (the bank's largest, or the chain's total)."""
        return self.processor.latency_samples

    # -- the audio callback -------------------------------------------------------------------
    def _callback(self, indata: np.ndarray, outdata: np.ndarray, frames: int, _time, status) -> None:
        start = time.perf_counter_ns()
        cpu_start = time.thread_time_ns()
        counters = self.counters
        if status:
            for slot, name in enumerate(_FLAGS, start=INPUT_UNDERFLOW):
                if getattr(status, name):
                    counters[slot] += 1
        if self.failure is None:
            try:
                self._run(indata, outdata, frames)
            except Exception as exc:  # noqa: BLE001 - a failing processor mutes, never kills the stream
                self.failure = exc
        if self.failure is not None:
            outdata.fill(0)
        slot = counters[CALLBACKS] % TIMING_SLOTS
        self.block_frames[slot] = frames
        self.callback_ns[slot] = time.perf_counter_ns() - start
        self.callback_cpu_ns[slot] = time.thread_time_ns() - cpu_start
        counters[CALLBACKS] += 1
        counters[SAMPLES] += frames

    def _run(self, indata: np.ndarray, outdata: np.ndarray, frames: int) -> None:
        """The source (the device input, or a file player), the processor, the mixer and the tap
        over the callback's frames, in blocks of ``max_block``."""
        source, tap = self.source, self.tap
        if self._reset[0]:
            self._reset[0] = 0
            self._reset_processing()
        if source is None and tap is None and self._rows is None and frames <= self.max_block:
            # the usual case in as few Python calls as possible: device input, one block
            if self._texture[0] != self._target[0]:
                self._glide(frames)
            dry, wet = indata.T, outdata.T
            self._process(dry, wet)
            self.mixer.process(dry, wet)
            return
        if source is not None and source.restart_pending():
            self._reset_processing()  # a take starts on a fresh frame grid, as an offline render does
        self._glide(frames)
        if source is not None:
            source.block_starts(frames, self._texture[0])
        step = self.max_block
        for at in range(0, frames, step):
            n = min(step, frames - at)
            if source is not None and source.feeding:
                dry = self._input[:, :n]
                source.read(dry)
            elif self._rows is None:
                dry = indata[at:at + n].T
            else:
                dry = self._input[:, :n]
                _gather(indata[at:at + n], self._rows, dry)
            wet = outdata[at:at + n].T
            self._process(dry, wet)
            self.mixer.process(dry, wet)
            if tap is not None:
                tap.write(dry, wet)

    def _glide(self, frames: int) -> None:
        """Move the texture one block towards the target (one-pole, snaps when close)."""
        current, target = self._texture[0], self._target[0]
        if current == target:
            return
        step = target - current
        if abs(step) > 1e-4 and self._tau_samples > 0:
            step *= 1.0 - math.exp(-frames / self._tau_samples)
        self._texture[0] = clamp_texture(current + step)  # in range to the last bit: the processor refuses
        self.processor.texture = self._texture[0]

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open and start the duplex stream (everything is prepared; the collector is frozen)."""
        sd = self._sd
        try:
            self._stream = sd.Stream(
                samplerate=self.samplerate, blocksize=self.config.blocksize,
                device=(self.input_device, self.output_device),
                channels=(self.device_inputs, self.config.channels),
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
        """Raise :class:`LiveError` if the processor failed in the callback (the output has
        been muted since), or if the stream stopped without being asked (device lost).

        The dead stream is abandoned, not stopped: PortAudio's JACK backend waits ten minutes
        for a process callback that never comes when asked to stop (or close, or terminate) a
        stream whose server has gone, so the stream is left open and PortAudio's exit handler,
        which would do the same, is unregistered. The process can then exit at once.
        """
        if self.failure is not None:
            raise LiveError(f"the processor failed in the audio callback and was muted "
                            f"({type(self.failure).__name__}: {first_line(self.failure)}); stopped")
        if self._stream is not None and not self._stopping and not self._stream.active:
            self._abandoned, self._stream = self._stream, None
            atexit.unregister(self._sd._exit_handler)
            gc.unfreeze()
            raise LiveError("the audio device stopped delivering audio (device lost or sound server gone); "
                            "stopped")

    # -- reporting ---------------------------------------------------------------------------
    @property
    def stream_latency_samples(self) -> tuple[int, int]:
        """PortAudio's reported (input, output) latency in samples, for the last stream opened."""
        return self._stream_latency

    @property
    def total_latency_samples(self) -> int:
        """Processor latency plus the stream's reported input and output latency."""
        return self.latency_samples + sum(self.stream_latency_samples)

    @property
    def samples_processed(self) -> int:
        """Samples through the engine since the stream started (the engine's frame grid starts at 0,
        or at :attr:`reset_at`)."""
        return int(self.counters[SAMPLES])

    def _reset_processing(self) -> None:
        """In the callback: clear the processor and the mixer; the frame grid starts again at this
        callback's first sample (:attr:`reset_at`)."""
        self.processor.reset()
        self.mixer.reset()
        self._reset[1] = self.counters[SAMPLES]

    def request_reset(self) -> None:
        """Clear what the processor remembers (the engine's frames, the level follower, filter and
        plugin tails, the dry delay) at the start of the next callback, as a render starts: the
        frame grid then starts at :attr:`reset_at`. Any thread; the callback does the work."""
        self._reset[0] = 1

    @property
    def reset_pending(self) -> bool:
        """True from :meth:`request_reset` until the callback has done it."""
        return bool(self._reset[0])

    @property
    def reset_at(self) -> int:
        """:attr:`samples_processed` when the latest reset ran (0 before any): one that
        :meth:`request_reset` asked for, or a studio take that starts over."""
        return int(self._reset[1])

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
        return Snapshot(self.texture, self.texture_target, self.mixer.mix, self.mixer.gain, self.mixer.bypass,
                        self.program_name, in_peak, out_peak, n, self.xruns, load, self.total_latency_samples,
                        self.samplerate)

    def callback_times(self) -> tuple[np.ndarray, np.ndarray]:
        """(durations in seconds, block periods in seconds) of the most recent callbacks."""
        n = min(int(self.counters[CALLBACKS]), TIMING_SLOTS)
        return self.callback_ns[:n] * 1e-9, self.block_frames[:n] / self.samplerate

    def summary(self) -> dict:
        """Callback statistics for the run: counts, xruns, time p50/p99/max and load p99.

        ``cpu_*`` are the callback thread's own CPU time (what the callback needed), beside the
        wall time (which also counts the time the OS or a virtual machine kept the thread off a CPU).
        """
        seconds, periods = self.callback_times()
        cpu = self.callback_cpu_ns[:seconds.size] * 1e-9
        result = {"callbacks": int(self.counters[CALLBACKS]), "xruns": self.xruns,
                  **{name: int(self.counters[slot]) for slot, name in enumerate(_FLAGS, start=INPUT_UNDERFLOW)},
                  "latency_samples": self.total_latency_samples,
                  "engine_latency_samples": self.latency_samples}
        if seconds.size:
            p50, p99 = np.percentile(seconds, [50, 99])
            result.update(callback_p50_ms=1e3 * p50, callback_p99_ms=1e3 * p99,
                          callback_max_ms=1e3 * seconds.max(),
                          load_p99=float(np.percentile(seconds / periods, 99)),
                          cpu_p99_ms=1e3 * float(np.percentile(cpu, 99)), cpu_max_ms=1e3 * float(cpu.max()),
                          cpu_load_p999=float(np.percentile(cpu / periods, 99.9)),
                          cpu_load_max=float((cpu / periods).max()),
                          cpu_over_period=int((cpu > periods).sum()),
                          block_frames=int(np.median(self.block_frames[:seconds.size])))
        return result
