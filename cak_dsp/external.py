"""VST3 and Audio Unit plugins as chain stages: loaded by path, parameters by name, saved state.

::

    from cak_dsp import Cak, Chain, ExternalStage

    delay = ExternalStage("d_latency.vst3")                         # mono: one instance per channel
    grid = ExternalStage("d_parameters.vst3", parameters={"top_left": 1})
    chain = Chain([grid, Cak("drums", 0.8), delay])
    wet = chain(stereo, 48000)                  # aligned: the plugin's 1 s latency is compensated
    blob = grid.state()                         # the plugin's whole state (VST3: component + controller)

Parameters. ``parameters`` and :meth:`ExternalStage.set_checked` take the Python names
pedalboard gives a plugin's parameters (``cak plugins`` lists them) and check each value
where it enters: a number must be finite and within the range the plugin states (a discrete
one snaps to its nearest step), a switch true/false, a choice one of its strings. Errors are
one line naming the parameter and its valid range; an unknown name lists every parameter.

State. :meth:`ExternalStage.state` returns the plugin's ``raw_state`` (for a VST3 what a DAW
saves in a project). A VST3 plugin hears parameter changes at its next audio block, so the
state is read after one block of silence. ``state=`` restores it when the stage is loaded,
before ``parameters`` (which therefore win). pedalboard accepts any bytes as a state, so a
state carries the ``identifier`` of the plugin it came from and a state saved from another
plugin is refused. Chain files carry it base64-encoded (see :mod:`cak_dsp.chain_save`).

Channel layouts and latency: see :mod:`cak_dsp.plugin_layout` and :mod:`cak_dsp.plugin_stage`.
"""
from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

import numpy as np

from .plugin_layout import LAYOUTS
from .plugin_probe import CHANNEL_COUNTS, PROBE_FRAMES, PROBE_RATE, error_text
from .plugin_scan import PluginCrash, check_loads
from .plugin_stage import PluginStage

FIELDS = ("path", "plugin_name", "parameters", "state", "identifier", "layout")


class PluginLoadError(ValueError):
    """A plugin file that cannot be a stage (one line naming the file and the reason)."""


def load_plugin_file(path: str | os.PathLike[str], plugin_name: str | None = None):
    """``pedalboard.load_plugin`` with its multi-line errors turned into one line."""
    import pedalboard

    try:
        return pedalboard.load_plugin(str(path), plugin_name=plugin_name)
    except (ImportError, RuntimeError, ValueError, AttributeError) as exc:
        raise PluginLoadError(f"cannot load plugin {path} ({error_text(exc)})") from None


def capture_state(plugin, sample_rate: int = PROBE_RATE) -> bytes:
    """The plugin's ``raw_state`` once it has heard every parameter change (one silent block
    at a channel count it takes; the plugin is reset afterwards)."""
    for count in CHANNEL_COUNTS:
        try:
            plugin.process(np.zeros((count, PROBE_FRAMES), np.float32), sample_rate, buffer_size=PROBE_FRAMES,
                           reset=True)
            break
        except ValueError:
            continue
    state = bytes(plugin.raw_state)
    plugin.reset()
    return state


def same_plugin_id(identifier: str) -> str:
    """The part of a pedalboard plugin identifier that names the plugin, not where its file is.

    pedalboard's VST3 identifiers read ``VST3-NAME-PATHHASH-UIDHASH``: the third part follows the
    file's path (a copied, moved or symlinked plugin gets another), the last the plugin's own ID.
    Saved chains store this form (``VST3-NAME-UIDHASH``); it maps to itself.
    """
    parts = identifier.rsplit("-", 2)
    return f"{parts[0]}-{parts[2]}" if len(parts) == 3 and parts[0].startswith("VST3-") else identifier


class ExternalStage(PluginStage):
    """A VST3/AU plugin file as a chain stage (see the module docstring).

    ``plugin_name`` picks one plugin of a shell file; ``state`` (bytes) is restored before
    ``parameters``; ``identifier``, when given, must be the plugin's (the one its state came
    from); ``layout`` is one of :data:`cak_dsp.plugin_layout.LAYOUTS`.
    """

    def __init__(self, path: str | os.PathLike[str], plugin_name: str | None = None,
                 parameters: dict[str, object] | None = None, state: bytes | None = None,
                 identifier: str | None = None, layout: str = "auto") -> None:
        if layout not in LAYOUTS:
            raise PluginLoadError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.path = Path(path)
        self.plugin_name = plugin_name
        plugin = load_plugin_file(self.path, plugin_name)
        if plugin.is_instrument and not plugin.is_effect:
            raise PluginLoadError(f"{plugin.name} ({self.path}) is an instrument (it needs MIDI notes, not "
                                  "audio); a chain stage must be an effect")
        if identifier is not None and same_plugin_id(identifier) != same_plugin_id(plugin.identifier):
            raise PluginLoadError(f"the state was saved from plugin {identifier!r}, but {self.path} is "
                                  f"{plugin.identifier!r}")
        if state is not None:
            plugin.raw_state = state
        super().__init__(plugin, layout=layout, clone=self._clone)
        for name, value in (parameters or {}).items():
            self.set_checked(name, value)

    def __repr__(self) -> str:
        return f"ExternalStage({str(self.path)!r}, layout={self.layout!r})"

    def set_checked(self, name: str, value: object) -> None:
        """Set parameter ``name`` on every instance after checking ``value`` (one-line ``ValueError``)."""
        infos = self.parameters()
        if name not in infos:
            listing = ", ".join(info.describe() for info in infos.values()) or "none"
            raise PluginLoadError(f"{self.name} has no parameter {name!r}; it has: {listing}")
        try:
            checked = infos[name].check(value)
        except ValueError as exc:
            raise PluginLoadError(f"{self.name}: {exc}") from None
        self.set_parameter(name, checked)

    def state(self) -> bytes:
        """The plugin's current state (see :func:`capture_state`); resets the plugin."""
        return capture_state(self.plugin, getattr(self, "sample_rate", PROBE_RATE))

    def _clone(self):
        twin = load_plugin_file(self.path, self.plugin_name)
        twin.raw_state = self.state()
        return twin


def stage_from_fields(fields: dict, base_dir: Path) -> ExternalStage:
    """An :class:`ExternalStage` from a chain file's ``plugin`` stage fields (``path``,
    ``plugin_name``, ``parameters``, ``state`` base64, ``identifier``, ``layout``); relative
    paths are relative to ``base_dir``. The plugin is first loaded in a separate process
    (:func:`cak_dsp.plugin_scan.check_loads`), so one that crashes cannot take cak down."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise PluginLoadError(f"unknown field {unknown[0]!r}; allowed: {', '.join(sorted(FIELDS))}")
    if not isinstance(fields.get("path"), str):
        raise PluginLoadError("a 'plugin' stage needs a 'path' to a VST3 or Audio Unit")
    path = Path(fields["path"])
    path = path if path.is_absolute() else base_dir / path
    if not path.exists():
        raise PluginLoadError(f"plugin file {path} does not exist")
    for key in ("plugin_name", "identifier", "state", "layout"):
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise PluginLoadError(f"field {key!r} must be a string, got {fields[key]!r}")
    parameters = fields.get("parameters", {})
    if not isinstance(parameters, dict):
        raise PluginLoadError("field 'parameters' must be an object of name: value")
    state = None
    if fields.get("state") is not None:
        try:
            state = base64.b64decode(fields["state"], validate=True)
        except (binascii.Error, ValueError):
            raise PluginLoadError("field 'state' must be the base64 text cak chain save writes") from None
    try:
        check_loads(path, fields.get("plugin_name"))
    except PluginCrash as exc:
        raise PluginLoadError(str(exc)) from None
    return ExternalStage(path, fields.get("plugin_name"), parameters, state, fields.get("identifier"),
                         fields.get("layout", "auto"))
