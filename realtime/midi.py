"""MIDI control of the texture knob: one Control Change (7- or 14-bit) mapped onto ``c``.

::

    knob = CCMapping(cc=74, channel=None, low=0.0, high=1.5, curve=1.0)
    midi = MidiControl(knob, set_value=host.set_texture, port="nanoKONTROL")
    midi.start()      # rtmidi's input thread parses; a watchdog thread re-opens a vanished port

python-rtmidi delivers messages on its own thread. Each matching CC becomes one float written
with ``set_value`` (for :class:`LiveHost` that is a single float64 slot the audio callback
reads: no lock), and the host glides ``c`` to it, so 7-bit steps do not zipper. Anything else
(SysEx, clock, notes, other channels or controllers, truncated messages) is ignored.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import rtmidi

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK, "coremidi": rtmidi.API_MACOSX_CORE,
        "winmm": rtmidi.API_WINDOWS_MM, "default": rtmidi.API_UNSPECIFIED}
CLIENT_NAME = "cak"


class MidiError(OSError):
    """No such MIDI port, or the MIDI API is unavailable."""


@dataclass
class CCMapping:
    """Controller ``cc`` on ``channel`` (1..16, None = any) -> ``low + (high - low) * x ** curve``.

    ``x`` is the controller position in 0..1. With ``fine=True`` the controller is the MSB of a
    14-bit pair whose LSB is ``cc + 32`` (the MIDI convention): x has 16384 steps instead of 128.
    """

    cc: int | None = 1
    channel: int | None = None
    low: float = 0.0
    high: float = 1.5
    curve: float = 1.0
    fine: bool = False

    def value(self, x: float) -> float:
        return self.low + (self.high - self.low) * x ** self.curve


class MidiControl:
    """Listen on a MIDI input and drive one value from a CC (see the module docstring).

    ``port`` is a substring of an input port's name (see :func:`list_ports`) or None with
    ``virtual=True`` to create a port other programs connect to. ``learn=True`` binds the first
    CC that moves (its channel included). ``events`` counts accepted messages (MIDI activity).
    """

    def __init__(self, mapping: CCMapping, set_value: Callable[[float], None], port: str | None = None,
                 api: str = "default", virtual: bool = False, learn: bool = False,
                 watch_interval: float = 0.5) -> None:
        if api not in APIS:
            raise MidiError(f"unknown MIDI API {api!r}; choose one of: {', '.join(APIS)}")
        if port is None and not virtual:
            raise MidiError("give a MIDI input port (cak midi-ports) or ask for a virtual port")
        self.mapping, self.set_value = mapping, set_value
        self.port, self.api, self.virtual = port, APIS[api], virtual
        self.learning = learn or mapping.cc is None
        self.events = 0
        self.port_name: str | None = None
        self.lost = False
        self._msb = 0
        self._midi: rtmidi.MidiIn | None = None
        self._watch_interval = watch_interval
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="cak-midi-watchdog", daemon=True)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Open the port (raises :class:`MidiError` if it does not exist) and start watching it."""
        self._open()
        if not self.virtual:
            self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        if self._watchdog.is_alive():
            self._watchdog.join()
        self._close()

    def __enter__(self) -> MidiControl:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _open(self) -> None:
        try:
            midi = rtmidi.MidiIn(self.api, name=CLIENT_NAME)
        except rtmidi.SystemError as exc:
            raise MidiError(f"MIDI API unavailable: {exc}") from None
        midi.ignore_types(sysex=True, timing=True, active_sense=True)
        if self.virtual:
            midi.open_virtual_port(self.port or "texture")
            self.port_name = self.port or "texture"
        else:
            names = midi.get_ports()
            matches = [i for i, name in enumerate(names) if self.port.lower() in name.lower()]
            if not matches:
                midi.delete()
                raise MidiError(f"no MIDI input port matching {self.port!r} (ports: {', '.join(names) or 'none'}); "
                                "list them with: cak midi-ports")
            midi.open_port(matches[0])
            self.port_name = names[matches[0]]
        midi.set_callback(self._on_message)
        self._midi = midi

    def _close(self) -> None:
        if self._midi is not None:
            self._midi.cancel_callback()
            self._midi.close_port()
            self._midi.delete()
            self._midi = None

    def _watch(self) -> None:
        """Report a vanished port (``lost``) and re-open it when a matching port returns."""
        probe = rtmidi.MidiIn(self.api, name=f"{CLIENT_NAME}-probe")
        try:
            while not self._stop.wait(self._watch_interval):
                present = any(self.port.lower() in name.lower() for name in probe.get_ports()
                              if not name.startswith(f"{CLIENT_NAME}:"))
                if not present and not self.lost:
                    self.lost = True
                    self._close()
                elif present and self.lost:
                    try:
                        self._open()
                        self.lost = False
                    except MidiError:
                        pass
        finally:
            probe.delete()

    # -- parsing (rtmidi's thread) ------------------------------------------------------------
    def _on_message(self, event: tuple[list[int], float], _data=None) -> None:
        message = event[0]
        if len(message) != 3 or message[0] & 0xF0 != 0xB0:
            return
        channel, cc, value = (message[0] & 0x0F) + 1, message[1], message[2]
        if cc > 127 or value > 127:
            return
        m = self.mapping
        if self.learning:
            if m.fine and cc >= 32:
                return
            m.cc, m.channel, self.learning = cc, channel, False
        if m.channel is not None and channel != m.channel:
            return
        if cc == m.cc:
            if m.fine:
                self._msb = value
                x = (value << 7) / 16383.0
            else:
                x = value / 127.0
        elif m.fine and cc == m.cc + 32:
            x = ((self._msb << 7) | value) / 16383.0
        else:
            return
        self.events += 1
        self.set_value(m.value(x))


def list_ports(api: str = "default") -> list[str]:
    """Names of the MIDI input ports ``api`` sees."""
    if api not in APIS:
        raise MidiError(f"unknown MIDI API {api!r}; choose one of: {', '.join(APIS)}")
    midi = rtmidi.MidiIn(APIS[api], name=f"{CLIENT_NAME}-list")
    try:
        return midi.get_ports()
    finally:
        midi.delete()

