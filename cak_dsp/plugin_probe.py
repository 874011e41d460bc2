"""What an external plugin is: its parameters, the channel counts it takes, its latency.

This module imports nothing from cak, so that it can also run as a script in a process of its
own: ``python plugin_probe.py PATH`` loads every plugin in the file ``PATH`` (a VST3 bundle
or file, or an Audio Unit component) and prints one JSON object on stdout. A plugin that
crashes while it loads or runs (a segmentation fault in its own code) then takes down only
that process, and the caller (``cak plugins``, chain files) reports it in one line and goes
on; see :mod:`cak_dsp.plugin_scan`. The same functions run in-process once a plugin is known
to load (:mod:`cak_dsp.external`).

Channel layouts. pedalboard runs a plugin with as many output channels as input channels and
asks the plugin to accept that layout on its main bus; a plugin that cannot answers with
``ValueError: Plugin 'X' does not support 2-channel output``. :func:`accepted_channels` asks
with a short block of silence for each count, so a plugin with no audio outputs (or an
instrument) accepts none.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, dataclass

import numpy as np

CHANNEL_COUNTS = (1, 2, 4, 6, 8)
PROBE_RATE = 48000
PROBE_FRAMES = 64


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of a plugin, by the Python name pedalboard gives it.

    ``kind`` is ``"number"`` (between ``low`` and ``high``, in steps of ``step`` when the
    plugin says it is discrete), ``"bool"`` or ``"choice"`` (one of ``choices``). ``low`` and
    ``high`` are None where the plugin does not say (pedalboard's built-in effects).
    """

    name: str
    label: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    value: float | bool | str | None = None

    def check(self, value: object) -> float | bool | str:
        """The value to set, or ``ValueError`` (one line, with the valid range) if it is not valid.

        Numbers must be finite and within ``low .. high``; a discrete number snaps to its
        nearest step; a bool takes true/false or 0/1; a choice takes one of its strings.
        """
        if self.kind == "choice":
            if value not in self.choices:
                raise ValueError(f"parameter {self.name!r} must be one of {', '.join(map(repr, self.choices))}, "
                                 f"got {value!r}")
            return value
        if self.kind == "bool":
            if isinstance(value, bool) or (isinstance(value, (int, float)) and value in (0, 1)):
                return bool(value)
            raise ValueError(f"parameter {self.name!r} must be true or false, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"parameter {self.name!r} must be a finite number {self.range_text()}, got {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ValueError(f"parameter {self.name!r} must be {self.range_text()}, got {value!r}")
        return self.snap(float(value))

    def snap(self, value: float) -> float:
        """``value`` on the parameter's step grid (unchanged for a continuous parameter)."""
        if self.step and self.low is not None:
            value = self.low + round((value - self.low) / self.step) * self.step
            return min(value, self.high) if self.high is not None else value
        return value

    def range_text(self) -> str:
        """``between 0 and 1``, ``between 0 and 3840000 in steps of 3840``, or ``''`` if unknown."""
        if self.kind == "bool":
            return "(true or false)"
        if self.kind == "choice":
            return f"(one of {', '.join(map(repr, self.choices))})"
        if self.low is None or self.high is None:
            return ""
        steps = f" in steps of {self.step:.10g}" if self.step else ""
        return f"between {self.low:.10g} and {self.high:.10g}{steps}"

    def describe(self) -> str:
        """``name 0..1 step 1 = 0`` for listings."""
        if self.kind == "choice":
            span = "|".join(self.choices)
        elif self.kind == "bool":
            span = "on|off"
        elif self.low is None or self.high is None:
            span = "?"
        else:
            span = f"{self.low:.10g}..{self.high:.10g}" + (f" step {self.step:.10g}" if self.step else "")
        now = "" if self.value is None else f" = {self.value:.10g}" if isinstance(self.value, float) \
            else f" = {self.value}"
        return f"{self.name} {span}{now}"


def parameter_infos(plugin) -> dict[str, ParameterInfo]:
    """The parameters of an external plugin (pedalboard ``ExternalPlugin``), by Python name."""
    infos = {}
    for name, parameter in plugin.parameters.items():
        label = getattr(parameter, "name", name)
        current = getattr(plugin, name)
        if getattr(parameter, "is_boolean", False):
            infos[name] = ParameterInfo(name, label, "bool", 0.0, 1.0, value=bool(current))
        elif getattr(parameter, "type", float) is str:
            infos[name] = ParameterInfo(name, label, "choice", choices=tuple(map(str, parameter.valid_values)),
                                        value=str(current))
        else:
            low, high, step = parameter.range
            discrete = getattr(parameter, "is_discrete", False) and step
            infos[name] = ParameterInfo(name, label, "number", low, high, float(step) if discrete else None,
                                        value=float(current))
    return infos


def accepted_channels(plugin, counts: tuple[int, ...] = CHANNEL_COUNTS,
                      sample_rate: int = PROBE_RATE) -> tuple[int, ...]:
    """The channel counts (input = output) the plugin accepts, asked with a block of silence each.

    A refusal is pedalboard's ``ValueError ... does not support N-channel output``; any other
    error is raised. The plugin is reset afterwards.
    """
    accepted = []
    for count in counts:
        try:
            out = plugin.process(np.zeros((count, PROBE_FRAMES), np.float32), sample_rate,
                                 buffer_size=PROBE_FRAMES, reset=True)
        except ValueError as exc:
            if "does not support" in str(exc) or "channel" in str(exc):
                continue
            raise
        if out.ndim == 2 and out.shape[0] == count:
            accepted.append(count)
    plugin.reset()
    return tuple(accepted)


def error_text(exc: BaseException) -> str:
    """One line from pedalboard's loader errors, which put the reason on the last line(s)::

        Failed to load plugin as VST3Plugin. Errors were:
            VST3Plugin: Unable to scan plugin x.vst3: unsupported plugin format or scan failure.
    """
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and lines[0].endswith(":"):
        return "; ".join(line.rstrip(".") for line in lines[1:])
    return lines[0].rstrip(".")


def plugin_names(path: str) -> list[str]:
    """The plugins in one file (a VST3 shell can hold several); ``[]`` for a file that holds one."""
    import pedalboard

    for cls in (getattr(pedalboard, "VST3Plugin", None), getattr(pedalboard, "AudioUnitPlugin", None)):
        if cls is None:
            continue
        try:
            names = cls.get_plugin_names_for_file(path)
        except (ImportError, RuntimeError, ValueError):
            continue
        if len(names) > 1:
            return list(names)
    return []


def describe(path: str, plugin_name: str | None = None) -> dict:
    """Everything ``cak plugins`` lists about one plugin, loaded in this process."""
    import pedalboard

    plugin = pedalboard.load_plugin(path, plugin_name=plugin_name)
    channels = accepted_channels(plugin)
    latency = None
    if channels:
        plugin.process(np.zeros((channels[0], PROBE_FRAMES), np.float32), PROBE_RATE, reset=True)
        latency = int(plugin.reported_latency_samples)
    return {
        "path": path,
        "name": plugin.name,
        "plugin_name": plugin_name,
        "manufacturer": getattr(plugin, "manufacturer_name", ""),
        "version": getattr(plugin, "version", ""),
        "kind": "instrument" if plugin.is_instrument else "effect",
        "channels": list(channels),
        "latency_samples": latency,
        "latency_rate": PROBE_RATE,
        "state_bytes": len(plugin.raw_state),
        "parameters": [asdict(info) for info in parameter_infos(plugin).values()],
    }


def main(argv: list[str]) -> int:
    """``plugin_probe.py PATH [--name NAME] [--load-only]``: print ``{"plugins": [...]}`` (with
    ``--load-only``: an empty list once the plugin has loaded) or ``{"error": "one line"}``."""
    import argparse

    parser = argparse.ArgumentParser(prog="plugin_probe.py")
    parser.add_argument("path")
    parser.add_argument("--name", default=None)
    parser.add_argument("--load-only", action="store_true")
    args = parser.parse_args(argv)
    try:
        import pedalboard

        if args.load_only:
            pedalboard.load_plugin(args.path, plugin_name=args.name)
            result: dict = {"plugins": []}
        else:
            names = [args.name] if args.name else plugin_names(args.path) or [None]
            result = {"plugins": [describe(args.path, name) for name in names]}
    except Exception as exc:  # noqa: BLE001 - the caller gets every failure as one line
        result = {"error": error_text(exc)}
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
