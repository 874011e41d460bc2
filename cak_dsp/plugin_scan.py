"""Finding and inspecting VST3 and Audio Unit plugins, each in a process of its own.

``cak plugins [FOLDER]`` lists every plugin under the standard folders (or ``FOLDER``) with
its parameters, the channel counts it accepts and its latency. A plugin is native code that
runs inside the process that loads it: a broken one can crash that process outright (a
segmentation fault is no Python exception). So every plugin is inspected by
:mod:`cak_dsp.plugin_probe` run as a separate Python process; a crash, a hang (``timeout``)
or a load error comes back as one line about that plugin, and the listing goes on.

Chain files use :func:`check_loads` before loading a plugin into the audio process, so a
plugin that crashes on load stops ``cak render`` or ``cak live`` with one line instead of a
core dump; its answer is remembered per file and modification time for the process's life.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .plugin_probe import ParameterInfo

PROBE_SCRIPT = Path(__file__).with_name("plugin_probe.py")
TIMEOUT_S = 60.0
SUFFIXES = (".vst3", ".component")


class PluginCrash(OSError):
    """A plugin that cannot be loaded (crash, hang or load error); the message is one line."""


@dataclass
class PluginReport:
    """One plugin file's inspection: ``plugins`` (one dict per plugin in the file, see
    :func:`cak_dsp.plugin_probe.describe`) or ``error`` (one line)."""

    path: Path
    plugins: list[dict] = field(default_factory=list)
    error: str | None = None


def standard_folders() -> list[Path]:
    """Where VST3 plugins (and on macOS Audio Units) are installed on this platform."""
    home = Path.home()
    if sys.platform == "darwin":
        return [home / "Library/Audio/Plug-Ins/VST3", Path("/Library/Audio/Plug-Ins/VST3"),
                home / "Library/Audio/Plug-Ins/Components", Path("/Library/Audio/Plug-Ins/Components")]
    if sys.platform.startswith("win"):
        common = Path(os.environ.get("COMMONPROGRAMFILES", r"C:\Program Files\Common Files"))
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData/Local"))
        return [common / "VST3", local / "Programs/Common/VST3"]
    return [home / ".vst3", Path("/usr/lib/vst3"), Path("/usr/local/lib/vst3")]


def find_plugins(folder: Path) -> list[Path]:
    """Plugin bundles and files under ``folder`` (a plugin path itself is returned as is);
    bundles are not searched inside."""
    if folder.suffix.lower() in SUFFIXES:
        return [folder]
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        for name in sorted(dirs):
            if name.lower().endswith(SUFFIXES):
                found.append(Path(root) / name)
        dirs[:] = sorted(d for d in dirs if not d.lower().endswith(SUFFIXES))
        found.extend(Path(root) / name for name in sorted(files) if name.lower().endswith(SUFFIXES))
    return sorted(found)


def _run_probe(args: list[str], timeout: float) -> dict:
    """Run plugin_probe.py with ``args``; its JSON answer, or ``{"error": ...}`` for a crash or hang."""
    try:
        done = subprocess.run([sys.executable, str(PROBE_SCRIPT), *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"did not answer within {timeout:g} s (hangs while loading)"}
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return {"error": f"crashed while loading ({name})"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"error": f"the inspecting process exited with status {done.returncode} and no answer"}


def inspect(path: Path, timeout: float = TIMEOUT_S) -> PluginReport:
    """Inspect every plugin in ``path`` in a separate process (see the module docstring)."""
    answer = _run_probe([str(path)], timeout)
    return PluginReport(path, answer.get("plugins", []), answer.get("error"))


_checked: dict[tuple[str, str | None, int], str | None] = {}


def check_loads(path: Path, plugin_name: str | None = None, timeout: float = TIMEOUT_S) -> None:
    """Raise :class:`PluginCrash` (one line) unless the plugin loads in a separate process."""
    try:
        key = (str(Path(path).resolve()), plugin_name, Path(path).stat().st_mtime_ns)
    except OSError as exc:
        raise PluginCrash(f"cannot read plugin {path} ({exc.strerror or exc})") from None
    if key not in _checked:
        answer = _run_probe([str(path), "--load-only"] + (["--name", plugin_name] if plugin_name else []), timeout)
        _checked[key] = answer.get("error")
    if _checked[key] is not None:
        raise PluginCrash(f"cannot load plugin {path}: {_checked[key]}")


def format_report(report: PluginReport) -> str:
    """A plugin file as ``cak plugins`` prints it: name, kind, channels, latency, parameters."""
    lines = [str(report.path)]
    if report.error is not None:
        lines.append(f"  BROKEN: {report.error}; cak will not load it")
    for info in report.plugins:
        channels = {1: "mono", 2: "stereo"}
        layout = ", ".join(f"{n} ({channels[n]})" if n in channels else str(n) for n in info["channels"]) \
            or "none (no audio bus cak can run)"
        shell = f" [plugin_name {info['plugin_name']!r}]" if info["plugin_name"] else ""
        lines.append(f"  {info['name']}{shell} by {info['manufacturer'] or '?'} {info['version']}, {info['kind']}")
        latency = "" if info["latency_samples"] is None else \
            f"; latency {info['latency_samples']} samples at {info['latency_rate']} Hz"
        lines.append(f"  channels in = out: {layout}{latency}; state {info['state_bytes']} bytes")
        parameters = [ParameterInfo(**{**p, "choices": tuple(p["choices"])}) for p in info["parameters"]]
        lines.append(f"  parameters ({len(parameters)}):")
        lines.extend(f"    {p.describe()}" for p in parameters)
    return "\n".join(lines)
