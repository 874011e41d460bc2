"""A pedalboard plugin as a chain stage, streamed block by block with a fixed latency.

:class:`PluginStage` runs any pedalboard plugin (a built-in such as ``HighpassFilter`` or a
VST3/AU from ``load_plugin``) block by block with ``reset=False``, so its state carries
across blocks. pedalboard hands back a latency-reporting plugin's output already aligned,
but holds samples back until they are ready; the stage primes a FIFO with the largest
hold-back measured in ``prepare`` so that every block comes out full and the stage has a
fixed latency, as a host needs. pedalboard re-prepares a plugin (and loses its state)
whenever a block is longer than any since its last reset, so after every reset the stage
runs one silent block of ``max_block`` samples through it and discards what comes out:
then blocks of any size up to ``max_block`` give the same result as one long call. That
primer also fixes the channel layout pedalboard reads from the block's shape (it remembers
it), so later blocks may be as short as one sample.

Garbage never crosses the stage (:mod:`cak_dsp.guard`): NaN and infinite input samples reach
the plugin as silence, and when the plugin itself emits NaN or infinity (a NaN parameter, a
filter blown up), those samples become silence, the plugin is reset (its state is poisoned) and
the stage keeps its latency; ``repaired_input`` and ``repaired_output`` count the non-finite
samples and ``resets`` the resets, for the one line a host prints (:meth:`Chain.repairs`).
Every sample leaving the stage is also clamped to +/-``SAMPLE_LIMIT``.

Plugins of another width than the chain run through an adapter that ``layout`` chooses at
prepare (one instance per channel, or a stereo plugin fed mono): see
:mod:`cak_dsp.plugin_layout`. Hold-back is measured by streaming at least
``PROBE_SECONDS`` of silence beyond the latency the plugin reports, at every prepare, so a
plugin whose latency follows its parameters is measured as it is set then. A latency that
changes while a stream runs is not followed (the stage would have to change its own latency
mid-stream); it shows as ``underruns``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import arrays, guard
from .errors import first_line
from .plugin_layout import LayoutError, adapt, choose_layout
from .plugin_probe import ParameterInfo, accepted_channels, parameter_infos

PROBE_SECONDS = 1.0
STREAM_PROBE_BLOCK = 256  # a live block size: a plugin must give output streamed in such blocks


class StageError(ValueError):
    """A stage that cannot run in a stream (one line, naming the stage)."""


class PluginStage:
    """A pedalboard plugin streamed block by block with a fixed, reported latency.

    ``layout`` says how a plugin of another width than the chain runs (see
    :mod:`cak_dsp.plugin_layout`); ``clone()``, where given, loads one more instance of the
    plugin with its current state, for one instance per channel.
    """

    def __init__(self, plugin, layout: str = "auto", clone: Callable[[], object] | None = None) -> None:
        self.plugin = plugin
        self.layout = layout
        self.clone = clone
        self.instances = [plugin]
        self.layout_used = "direct"
        self._runner = plugin
        self._texture = 0.0
        self.latency_samples = 0
        self.channels: int | None = None
        self.underruns = 0
        self._fifo = np.zeros((1, 0), np.float32)
        self._fill = 0
        self._fed = 0
        self._emitted = 0
        self._discard = 0
        self.repaired_input = 0
        self.repaired_output = 0
        self.resets = 0

    def __repr__(self) -> str:
        return f"PluginStage({self.plugin!r})"

    @property
    def name(self) -> str:
        """The plugin's own name for an external plugin (``Latency``), else the class name."""
        own = getattr(self.plugin, "name", None) if self.external else None
        return own if isinstance(own, str) and own else type(self.plugin).__name__

    @property
    def texture(self) -> float:
        """A plugin has no texture knob; the value is kept only for the processor contract."""
        return self._texture

    @texture.setter
    def texture(self, value: float) -> None:
        self._texture = float(value)

    @property
    def external(self) -> bool:
        """Whether the plugin is a VST3/AU (or anything but one of pedalboard's built-ins)."""
        import pedalboard

        return isinstance(self.plugin, pedalboard.ExternalPlugin) or not isinstance(self.plugin, pedalboard.Plugin)

    # -- parameters ---------------------------------------------------------------------------
    def parameters(self, sample_rate: float | None = None) -> dict[str, ParameterInfo]:
        """The plugin's parameters by name. An external plugin states each range; a built-in's
        ranges are unknown (pedalboard checks some values itself) except that frequencies
        (``*_hz``) lie between 0 and half ``sample_rate`` (the prepared rate when None)."""
        if self.external:
            return parameter_infos(self.plugin)
        nyquist = (sample_rate or getattr(self, "sample_rate", 0)) / 2 or None
        infos = {}
        cls = type(self.plugin)
        for name in sorted(dir(cls)):
            prop = getattr(cls, name, None)
            if name.startswith("_") or name in ("is_effect", "is_instrument") \
                    or not isinstance(prop, property) or prop.fset is None:
                continue
            value = getattr(self.plugin, name, None)
            if isinstance(value, bool):
                infos[name] = ParameterInfo(name, name, "bool", 0.0, 1.0, value=value)
            elif isinstance(value, (int, float)):
                low, high = (0.0, nyquist) if name.endswith("_hz") else (None, None)
                infos[name] = ParameterInfo(name, name, "number", low, high, value=float(value))
        return infos

    def set_parameter(self, name: str, value: float | bool | str) -> None:
        """Set a parameter on the plugin and every per-channel instance (checked by the caller)."""
        for instance in self.instances:
            setattr(instance, name, value)

    # -- streaming ----------------------------------------------------------------------------
    def prepare(self, sample_rate: int, max_block: int, channels: int) -> None:
        """Fit the channel layout, check frequencies against the rate, measure how many samples
        the plugin holds back, then allocate the FIFO."""
        self.sample_rate, self.max_block, self.channels = arrays.check_prepare(sample_rate, max_block, channels)
        guard.warm()
        self._fit_layout()
        self._check_frequencies()
        if self.max_block > STREAM_PROBE_BLOCK:
            self._check_streams()
        self.latency_samples = self._probe_hold_back()
        self._fifo = np.zeros((channels, self.latency_samples + self.max_block), np.float32)
        self.reset()

    def _fit_layout(self) -> None:
        """Ask an external plugin which channel counts it takes and choose the layout."""
        if not self.external:
            self._runner, self.instances, self.layout_used = self.plugin, [self.plugin], "direct"
            return
        try:
            accepted = accepted_channels(self.plugin, sample_rate=self.sample_rate)
            self.layout_used = choose_layout(self.layout, accepted, self.channels, self.name)
            self._runner, self.instances = adapt(self.plugin, self.layout_used, self.channels, self.clone,
                                                  self.name)
        except LayoutError as exc:
            raise StageError(str(exc)) from None
        except (RuntimeError, ValueError) as exc:
            raise StageError(f"{self.name}: {first_line(exc)}") from None

    def _check_frequencies(self) -> None:
        """A built-in's frequencies above the Nyquist frequency make JUCE's filters blow up."""
        if self.external:
            return
        for info in self.parameters().values():
            if info.low is not None and info.high is not None and not info.low <= info.value <= info.high:
                raise StageError(f"{self.name}: parameter {info.name!r} must be {info.range_text()} at "
                                 f"{self.sample_rate} Hz, got {info.value:g}")

    def _probe_hold_back(self) -> int:
        """Largest number of samples the plugin keeps back while streaming silence."""
        reported = int(getattr(self.plugin, "reported_latency_samples", 0) or 0)
        probe = max(int(PROBE_SECONDS * self.sample_rate), 4 * self.max_block) + reported
        worst = 0
        for size in sorted({self.max_block, min(self.max_block, 64), min(self.max_block, 263)}):
            size = max(size, self.channels + 1)
            self._discard = self._reset_plugin()
            fed = emitted = 0
            zeros = np.zeros((self.channels, size), np.float32)
            while fed < probe:
                emitted += self._owed(self._run(zeros)).shape[1]
                fed += size
                worst = max(worst, fed - emitted)
            if emitted == 0:
                raise self._cannot_stream()
        return worst

    def _check_streams(self) -> None:
        """Refuse a plugin that gives no output when streamed in live-sized blocks, as a live
        chain does, also where the blocks are large (offline): there pedalboard's PitchShift,
        for one, comes out after a long delay but silent. Streams ``PROBE_SECONDS`` of silence
        in blocks of ``STREAM_PROBE_BLOCK`` samples after a reset and a primer of that size."""
        size = max(STREAM_PROBE_BLOCK, self.channels + 1)
        self._runner.reset()
        zeros = np.zeros((self.channels, size), np.float32)
        emitted = sum(self._run(zeros, size).shape[1] for _ in range(int(PROBE_SECONDS * self.sample_rate) // size + 1))
        self._runner.reset()
        if emitted == 0:
            raise self._cannot_stream()

    def _cannot_stream(self) -> StageError:
        return StageError(f"{self.name}: produced no output when streamed block by block "
                          f"(pedalboard cannot run it in a chain); remove it from the chain")

    def _reset_plugin(self) -> int:
        """Reset the plugin and prepare it for ``max_block``; returns the primer samples still owed."""
        self._runner.reset()
        primer = np.zeros((self.channels, max(self.max_block, self.channels + 1)), np.float32)
        return primer.shape[1] - self._run(primer).shape[1]

    def _run(self, block: np.ndarray, buffer_size: int | None = None) -> np.ndarray:
        return self._runner.process(block, self.sample_rate, buffer_size=buffer_size or self.max_block, reset=False)

    def process(self, block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Process ``block`` (channels, 1 <= n <= max_block) into ``out``; non-finite samples
        in or out are silenced (see the module docstring)."""
        if self.channels is None:
            raise RuntimeError("call prepare(sample_rate, max_block, channels) before processing")
        block = arrays.block(block, self.channels, self.max_block)
        out = arrays.out_block(out, block.shape)
        n = block.shape[1]
        if guard.count_nonfinite(block):
            block = block.copy()  # the caller's array stays as it was
            self.repaired_input += guard.repair(block)
        y, bad = self._repaired(self._owed(self._run(block)))
        self._fed += n
        self._emitted += y.shape[1]
        if self.latency_samples == 0 and y.shape[1] == n and self._fill == 0:
            out[...] = y
            if bad:
                self._recover()
            return out
        m = y.shape[1]
        self._fifo[:, self._fill:self._fill + m] = y
        self._fill += m
        ready = min(n, self._fill)
        out[:, :ready] = self._fifo[:, :ready]
        if ready < n:
            out[:, ready:] = 0.0
            self.underruns += 1
        self._fifo[:, :self._fill - ready] = self._fifo[:, ready:self._fill]
        self._fill -= ready
        if bad:
            self._recover()
        return out

    def _repaired(self, y: np.ndarray) -> tuple[np.ndarray, int]:
        """The plugin's output with its non-finite samples silenced and the rest clamped, and
        how many were non-finite."""
        if not y.flags.writeable or y.dtype != np.float32:
            y = np.array(y, np.float32)
        bad = guard.repair(y)
        self.repaired_output += bad
        return y, bad

    def _recover(self) -> None:
        """Reset a plugin that emitted non-finite samples (its state is poisoned). What it held
        back is lost; as many zeros take its place in the FIFO, so the latency stays."""
        held = self._fed - self._emitted
        self._discard = self._reset_plugin()
        zeros = max(min(held, self._fifo.shape[1] - self._fill), 0)
        self._fifo[:, self._fill:self._fill + zeros] = 0.0
        self._fill += zeros
        self._emitted = self._fed
        self.resets += 1

    def flush(self) -> np.ndarray:
        """Everything still inside: streams silence until the plugin has given back all it holds."""
        owed = self._fed
        size = max(self.max_block, self.channels + 1)
        zeros = np.zeros((self.channels, size), np.float32)
        parts = [self._fifo[:, :self._fill].copy()]
        limit = owed + self.latency_samples + 4 * size
        while self._emitted < owed and self._fed < limit:
            y, bad = self._repaired(self._owed(self._run(zeros)))
            self._fed += size
            self._emitted += y.shape[1]
            parts.append(y)
            if bad:  # what the plugin still holds is poisoned: silence stands in for it
                self._runner.reset()
                self.resets += 1
                parts.append(np.zeros((self.channels, max(owed - self._emitted, 0)), np.float32))
                break
        self._fill = 0
        return np.concatenate(parts, axis=1).astype(np.float32, copy=False)

    def _owed(self, y: np.ndarray) -> np.ndarray:
        """Drop what is still owed of the primer's output from the front of ``y``."""
        if self._discard:
            drop = min(self._discard, y.shape[1])
            self._discard -= drop
            y = y[:, drop:]
        return y

    def reset(self) -> None:
        self._discard = self._reset_plugin()
        self._fifo.fill(0)
        self._fill = self.latency_samples
        self._fed = 0
        self._emitted = 0
        self.underruns = 0
