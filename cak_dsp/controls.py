"""Control targets: any stage's parameter, moved by MIDI live or by automation offline, the same way.

Targets. A target is ``STAGE.PARAMETER``: ``STAGE`` is ``stage N`` or ``N`` (1-based, as
chain-file errors count) or the stage's ``name`` from the chain file; ``PARAMETER`` is a
parameter's Python name (``cak plugins`` lists a VST3's; a pedalboard built-in's are its
properties, e.g. ``cutoff_frequency_hz``; a CAK stage has ``texture``)::

    stage 1.cutoff_frequency_hz      1.cutoff_frequency_hz      hp.cutoff_frequency_hz

Numbers and switches can be targets; a choice parameter (a string, such as a VST3's
``current_program``) cannot.

Control blocks. Parameters move only at control-block boundaries: every
:data:`CONTROL_BLOCK` samples (64) of the chain's input, counted from the start of the stream
(live: from the stream's start; offline: from the file's first sample). A chain with controls
splits every block it is given at those boundaries and, at each one, brings every controlled
parameter one step towards its target and sets it on the stage before the stage runs the
next samples. Live and offline therefore set the same values at the same samples whatever
the audio block size, and a live performance rendered again offline from a MIDI file of the
same controller values at the same times (the times at which the host took them) is the same
audio; ``tests/test_live_plugins.py`` shows it on JACK.

Where the target comes from. Live, MIDI writes it into one float64 slot per parameter (any
thread, no lock; the audio thread reads it at the next boundary) and :meth:`ParameterControl.changes`
logs the sample at which each new target was taken. Offline, a :class:`ParameterAutomation`
gives it: a MIDI file's controller values (held; an event at ``t`` seconds counts from sample
``round(t * rate)``, so from the first boundary at or after it; before the first event the
parameter keeps its chain-file value, as live before the first message) or a CSV envelope
(linear between points, evaluated at each boundary; the first value holds before it).

Smoothing. Few plugins smooth a parameter that jumps (pedalboard's filters recompute their
coefficients at once), so a numeric target is approached with a one-pole glide of time
constant ``smoothing_ms`` (default 20 ms, as the texture knob, for MIDI; 0 jumps, the default
for a CSV envelope, which is already the shape wanted) evaluated once per
control block; within 1e-6 of the span it snaps. Switches and discrete parameters jump (to
the nearest step). The first boundary of a stream jumps to the target: a render starts at
its automation's first value, and a live stream at the chain's own value.

Real time. The boundary work is a few float operations and one attribute set per parameter
that moved; pedalboard's setters are Python calls that box a float (an allocation) and a
VST3 takes the value at its next block. No locks, no prints.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .plugin_probe import ParameterInfo

CONTROL_BLOCK = 64
DEFAULT_SMOOTHING_MS = 20.0
LOG_SIZE = 4096
SNAP = 1e-6
NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_TARGET = re.compile(rf"\s*(?:stage\s+(?P<number>\d+)|(?P<index>\d+)|(?P<name>{NAME}))\s*\.\s*"
                     r"(?P<parameter>[A-Za-z_][A-Za-z0-9_]*)\s*\Z")


class ControlError(ValueError):
    """A control target or range that cannot be used (one line naming the stage and parameter)."""


def check_stage_name(name: object) -> str:
    """A stage ``name`` for chain files: letters, digits, ``_`` and ``-``, not starting with a
    digit (``2.x`` means stage 2), and not ``stage``."""
    if not isinstance(name, str) or not re.fullmatch(NAME, name) or name == "stage":
        raise ControlError(f"a stage name must be letters, digits, '_' or '-', start with a letter and not be "
                           f"'stage', got {name!r}")
    return name


def is_parameter_target(text: object) -> bool:
    """Whether ``text`` has the form ``STAGE.PARAMETER`` (see the module docstring)."""
    return isinstance(text, str) and _TARGET.match(text) is not None


def parse_target(text: str) -> tuple[int | str, str]:
    """``"stage 2.mix"`` -> ``(2, "mix")``; ``"hp.cutoff_frequency_hz"`` -> ``("hp", ...)``."""
    match = _TARGET.match(text) if isinstance(text, str) else None
    if match is None:
        raise ControlError(f"a parameter target is STAGE.PARAMETER, e.g. 'stage 1.cutoff_frequency_hz' or "
                           f"'hp.cutoff_frequency_hz', got {text!r}")
    number = match["number"] or match["index"]
    return (int(number) if number else match["name"]), match["parameter"]


@dataclass
class Binding:
    """A resolved target: stage ``index`` (0-based) of a chain and one of its parameters."""

    index: int
    stage: object
    parameter: str
    label: str
    kind: str = "number"

    def info(self, sample_rate: float | None = None) -> ParameterInfo:
        """The parameter's description now (its range may depend on the sample rate)."""
        from .cak_stage import Cak

        if isinstance(self.stage, Cak):
            from .texture import TEXTURE_RANGE

            return ParameterInfo("texture", "texture", "number", *TEXTURE_RANGE, value=self.stage.texture)
        return self.stage.parameters(sample_rate)[self.parameter]

    def get(self) -> float:
        """The parameter's current value as a float (a switch is 0 or 1)."""
        return float(self.info().value)

    def set(self, value: float) -> None:
        """Set the parameter (a switch is on from 0.5)."""
        if self.kind == "texture":
            self.stage.texture = value
        elif self.kind == "bool":
            self.stage.set_parameter(self.parameter, value >= 0.5)
        else:
            self.stage.set_parameter(self.parameter, value)

    def check_span(self, low: float, high: float, sample_rate: float | None = None) -> None:
        """Refuse values ``low .. high`` that the parameter cannot take (one line)."""
        for value in (low, high):
            if not math.isfinite(value):
                raise ControlError(f"{self.label}: range values must be finite numbers, got {low}..{high}")
        info = self.info(sample_rate)
        lo, hi = min(low, high), max(low, high)
        if info.low is not None and info.high is not None:
            if lo < info.low or hi > info.high:
                at = f" at {sample_rate:g} Hz" if sample_rate else ""
                raise ControlError(f"{self.label}: range {low:g}..{high:g} must lie within "
                                   f"{info.low:g}..{info.high:g}{at}")
            return
        previous = info.value  # a built-in states no range: let pedalboard judge both ends, then restore
        try:
            for value in (lo, hi):
                self.stage.set_parameter(self.parameter, value)
        except (ValueError, TypeError) as exc:
            raise ControlError(f"{self.label}: range {low:g}..{high:g} is not valid ({exc})") from None
        finally:
            self.stage.set_parameter(self.parameter, previous)


def stage_label(chain, index: int) -> str:
    """``stage 2 (HighpassFilter 'hp')`` for messages."""
    stage = chain.stages[index]
    kind = "cak" if type(stage).__name__ == "Cak" else stage.name
    name = chain.names[index]
    return f"stage {index + 1} ({kind}{f' {name!r}' if name else ''})"


def resolve(chain, text: str, allow_choice: bool = False) -> Binding:
    """The :class:`Binding` for target ``text`` in ``chain`` (one-line :class:`ControlError`
    listing the stages, or the stage's parameters, when it names neither). Choice parameters
    are refused unless ``allow_choice`` (``cak chain save --set`` can set them)."""
    from .cak_stage import Cak

    ref, parameter = parse_target(text)
    stages = ", ".join(stage_label(chain, i) for i in range(len(chain.stages)))
    if isinstance(ref, int):
        if not 1 <= ref <= len(chain.stages):
            raise ControlError(f"target {text!r}: no stage {ref}; the chain has {stages}")
        index = ref - 1
    elif ref in chain.names:
        index = chain.names.index(ref)
    else:
        raise ControlError(f"target {text!r}: no stage named {ref!r}; the chain has {stages}")
    stage = chain.stages[index]
    label = f"{stage_label(chain, index)} parameter {parameter!r}"
    if isinstance(stage, Cak):
        if parameter != "texture":
            raise ControlError(f"target {text!r}: a CAK stage's parameter is 'texture', not {parameter!r}")
        return Binding(index, stage, parameter, label, "texture")
    infos = stage.parameters()
    if parameter not in infos:
        listing = ", ".join(info.name for info in infos.values() if allow_choice or info.kind != "choice") or "none"
        raise ControlError(f"target {text!r}: {stage_label(chain, index)} has no parameter {parameter!r}; "
                           f"it has: {listing}")
    if infos[parameter].kind == "choice" and not allow_choice:
        raise ControlError(f"target {text!r}: {label} is a choice of {', '.join(infos[parameter].choices)}; only "
                           "numbers and switches can be control targets")
    return Binding(index, stage, parameter, label, infos[parameter].kind)


@dataclass(frozen=True)
class ParameterAutomation:
    """Offline targets for one parameter: ``times`` (seconds, non-decreasing) and ``values``,
    ``hold`` (MIDI: nothing before the first event) or ``linear`` (CSV: the first value holds
    before it)."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    interpolation: str


class ParameterControl:
    """One parameter moved at control-block boundaries towards a target (see the module docstring).

    ``low`` and ``high`` bound every target (a MIDI mapping's range, or an automation's
    smallest and largest value); ``smoothing_ms`` is the glide's time constant (None: 20 ms
    for a continuous number, 0 for a switch or a discrete number); ``source`` (the mapping or
    envelope file) starts the messages of checks made at prepare.
    """

    def __init__(self, binding: Binding, low: float, high: float, smoothing_ms: float | None = None,
                 automation: ParameterAutomation | None = None, source: str = "") -> None:
        binding.check_span(low, high)
        info = binding.info()
        self.binding = binding
        self.low, self.high = min(low, high), max(low, high)
        self.kind = info.kind
        self._info = info
        discrete = info.kind == "bool" or bool(info.step)
        if smoothing_ms is not None and not (math.isfinite(smoothing_ms) and smoothing_ms >= 0):
            raise ControlError(f"{binding.label}: smoothing_ms must be a finite number >= 0, got {smoothing_ms}")
        self.smoothing_ms = 0.0 if discrete else DEFAULT_SMOOTHING_MS if smoothing_ms is None else float(smoothing_ms)
        self.automation = automation
        self.source = source
        self.initial = binding.get()
        self._target = np.array([self.initial], np.float64)
        self._alpha = 1.0
        self._snap = SNAP * max(self.high - self.low, 1e-12)
        self._current = self.initial
        self._seen = self.initial
        self._events = np.zeros(0, np.float64)
        self._values = np.zeros(0, np.float64)
        self._log_pos = np.zeros(LOG_SIZE, np.int64)
        self._log_value = np.zeros(LOG_SIZE, np.float64)
        self._logged = 0

    # -- any thread ------------------------------------------------------------------------
    def set(self, value: float) -> None:
        """Ask for ``value`` (clamped to ``low .. high``, snapped for a switch or a step); the
        audio thread takes it at the next boundary. Non-finite values are ignored."""
        value = float(value)
        if not math.isfinite(value):
            return
        self._target[0] = self._quantize(min(max(value, self.low), self.high))

    def _quantize(self, value: float) -> float:
        if self.kind == "bool":
            return 1.0 if value >= 0.5 else 0.0
        return self._info.snap(value) if self._info.step else value

    def changes(self) -> list[tuple[int, float]]:
        """``(sample, target)`` for each new target taken in the current (or last) stream, the
        first :data:`LOG_SIZE`; samples count from the start of the stream."""
        n = min(self._logged, LOG_SIZE)
        return list(zip(self._log_pos[:n].tolist(), self._log_value[:n].tolist()))

    # -- lifecycle ----------------------------------------------------------------------------
    def prepare(self, sample_rate: int) -> None:
        """Check the range at this rate (frequencies stop at Nyquist) and set up the glide and
        the automation's event samples."""
        try:
            self.binding.check_span(self.low, self.high, sample_rate)
        except ControlError as exc:
            raise ControlError(f"{self.source}: {exc}" if self.source else str(exc)) from None
        tau = self.smoothing_ms * 1e-3 * sample_rate
        self._alpha = 1.0 - math.exp(-CONTROL_BLOCK / tau) if tau > 0 else 1.0
        if self.automation is not None:
            times = np.asarray(self.automation.times, np.float64) * sample_rate
            self._events = np.round(times) if self.automation.interpolation == "hold" else times
            self._values = np.array([self._quantize(v) for v in self.automation.values], np.float64)

    def reset(self) -> None:
        """Back to the value the parameter had when the control was made."""
        self._target[0] = self._current = self._seen = self.initial
        self.binding.set(self.initial)

    # -- the audio thread ---------------------------------------------------------------------
    def step(self, pos: int) -> None:
        """At the boundary at stream sample ``pos``: take the target, glide, set the parameter."""
        target = self._target[0] if self.automation is None else self._automated(pos)
        if pos == 0:
            self._logged = 0
        if target != self._seen:
            if self._logged < LOG_SIZE:
                self._log_pos[self._logged] = pos
                self._log_value[self._logged] = target
            self._logged += 1
            self._seen = target
        if pos == 0 or self._alpha >= 1.0:
            value = target
        else:
            value = self._current + (target - self._current) * self._alpha
            if abs(target - value) <= self._snap:
                value = target
        if value != self._current:
            self.binding.set(value)
            self._current = value

    def _automated(self, pos: int) -> float:
        events, values = self._events, self._values
        if self.automation.interpolation == "linear":
            return self._quantize(float(np.interp(pos, events, values)))
        i = int(np.searchsorted(events, pos, side="right")) - 1
        return self.initial if i < 0 else float(values[i])

    @property
    def value(self) -> float:
        """The value set on the parameter now."""
        return self._current

    @property
    def target(self) -> float:
        """The value asked for last (live: by MIDI), which ``value`` glides to."""
        return float(self._target[0])


class ControlBank:
    """The controls of one chain, run at control-block boundaries (see the module docstring).

    ``aliases`` maps each target text used (``"hp.cutoff_frequency_hz"``, ``"1.cutoff..."``)
    to its control; two spellings of one parameter share one control.
    """

    def __init__(self, controls: list[ParameterControl], aliases: dict[str, ParameterControl]) -> None:
        self.controls = controls
        self.aliases = aliases
        self.position = 0

    def setters(self) -> dict[str, Callable[[float], None]]:
        """``{target text: set}`` for the MIDI thread."""
        return {text: control.set for text, control in self.aliases.items()}

    def prepare(self, sample_rate: int) -> None:
        """Prepare every control for ``sample_rate`` (ranges checked at that rate), then reset."""
        for control in self.controls:
            control.prepare(sample_rate)
        self.reset()

    def reset(self) -> None:
        """Back to the start of a stream; every parameter back to its value before the controls."""
        self.position = 0
        for control in self.controls:
            control.reset()

    def process(self, run: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray],
                block: np.ndarray, out: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
        """Run ``run(part, out_part, texture_part)`` (the chain's stages) over ``block`` in parts
        that end at control boundaries, stepping every control at each boundary."""
        n = block.shape[1]
        at = 0
        while at < n:
            into = self.position % CONTROL_BLOCK
            if into == 0:
                for control in self.controls:
                    control.step(self.position)
            stop = at + min(n - at, CONTROL_BLOCK - into)
            run(block[:, at:stop], out[:, at:stop], None if texture is None else texture[at:stop])
            self.position += stop - at
            at = stop
        return out
