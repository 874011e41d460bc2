"""MIDI control: Control Changes (7- or 14-bit) and notes onto the host's knobs, Program Change
onto presets.

::

    knobs = [CCMapping(cc=74, low=0.0, high=1.5, curve=2.0),          # texture c
             CCMapping(target="mix", cc=7, low=0.0, high=1.0),
             CCMapping(target="bypass", note=60)]                       # held note = bypass
    midi = MidiControl(knobs, host.setters(), port="nanoKONTROL", program=host.set_program)
    midi.start()      # a helper process owns the port; a thread here parses what it forwards

Targets (``CCMapping.target``): ``texture`` (``c``), ``mix`` (wet share), ``gain`` (output gain
in dB), each ``low + (high - low) * x ** curve`` of the controller position ``x`` in 0..1; and
``bypass``: on while a CC is at 64 or above, or while a note is held (note on; note off or
velocity 0 releases). Program Change ``n`` calls ``program(n)``. A target ``STAGE.PARAMETER``
(``hp.cutoff_frequency_hz``) moves a chain stage's parameter, mapped the same way; its setter
comes from the chain's controls (:mod:`cak_dsp.controls`), which apply it at control-block
boundaries.

The port itself lives in a helper process (:mod:`cak_realtime.midi_port`), so opening it, and
re-opening it when a vanished port returns, can never deadlock against the audio callback;
the helper forwards raw messages through a pipe, only the newest of each control under a burst
(the last value always wins). A daemon thread here parses them and calls the setters, which
write single float64 slots the audio callback reads: no lock. Anything else (SysEx, clock,
other channels or controllers, truncated messages) is ignored, never fatal. Messages rtmidi
itself had to drop are counted in ``dropped``, for one line at the end, never printed one by one.
"""
from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .midi_port import MidiError, check_api, list_ports, serve
from .mixer import GAIN_RANGE_DB

__all__ = ["CCMapping", "MidiControl", "MidiError", "TARGETS", "list_ports"]

# every target and its default (low, high)
TARGETS = {"texture": (0.0, 1.5), "mix": (0.0, 1.0), "gain": (-60.0, 6.0), "bypass": (0.0, 1.0)}
# where a mapping's range may lie: texture past its own 0..2 (the knob rests at the end, see
# cak_dsp.texture), mix within 0..1, gain (dB) within the output gain's range
RANGE_LIMITS = {"texture": (-10.0, 10.0), "mix": (0.0, 1.0), "gain": GAIN_RANGE_DB, "bypass": (0.0, 1.0)}
CURVE_RANGE = (0.01, 100.0)
START_TIMEOUT = 20.0


@dataclass
class CCMapping:
    """Controller ``cc`` (or, for ``bypass``, note ``note``) on ``channel`` (1..16, None = any)
    drives ``target`` (see the module docstring).

    ``x`` is the controller position in 0..1. With ``fine=True`` the controller is the MSB of a
    14-bit pair whose LSB is ``cc + 32`` (the MIDI convention): x has 16384 steps instead of 128.
    """

    cc: int | None = 1
    channel: int | None = None
    low: float | None = 0.0  # None: a parameter target's own range (cak_dsp.control_files.bind_midi_map)
    high: float | None = 1.5
    curve: float = 1.0
    fine: bool = False
    target: str = "texture"
    note: int | None = None
    smoothing_ms: float | None = None  # parameter targets: the glide (None: cak_dsp.controls' default)

    def __post_init__(self) -> None:
        if self.note is not None:
            self.cc = None

    def value(self, x: float) -> float:
        if self.target == "bypass":
            return 1.0 if x >= 0.5 else 0.0
        return self.low + (self.high - self.low) * x ** self.curve


class MidiControl:
    """Listen on a MIDI input and drive the host's controls (see the module docstring).

    ``setters`` maps targets to functions taking one float (``texture``, ``mix``, ``gain`` in dB,
    ``bypass`` 0/1). ``port`` is a substring of an input port's name (see :func:`list_ports`), or
    the name of the port to create with ``virtual=True``. ``learn=True`` binds the texture
    mapping to the first CC that moves (its channel included) and is not mapped to anything else.
    ``events`` counts accepted messages (MIDI activity); ``lost`` is True while the port is gone;
    ``dropped`` counts the messages rtmidi lost because its input queue was full.
    """

    def __init__(self, mappings: Sequence[CCMapping], setters: dict[str, Callable[[float], None]],
                 port: str | None = None, api: str = "default", virtual: bool = False, learn: bool = False,
                 program: Callable[[int], None] | None = None, program_channel: int | None = None,
                 watch_interval: float = 0.5) -> None:
        check_api(api)
        if port is None and not virtual:
            raise MidiError("give a MIDI input port (cak midi-ports) or ask for a virtual port")
        for m in mappings:
            if m.target not in setters:
                raise ValueError(f"no setter for MIDI target {m.target!r}")
        self.mappings = list(mappings)
        if learn:
            knob = next((m for m in self.mappings if m.target == "texture"), None)
            if knob is None:
                self.mappings.append(CCMapping(cc=None))
            else:
                knob.cc = None
        self.setters, self.program = setters, program
        self.program_channel = program_channel
        self.port, self.api, self.virtual = port, api, virtual
        self.learning = learn or any(m.cc is None and m.note is None for m in self.mappings)
        self.events = 0
        self.dropped = 0
        self.port_name: str | None = None
        self.lost = False
        self._watch_interval = watch_interval
        self._msb = [0] * len(self.mappings)
        self._conn = None
        self._process = None
        self._reader: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Start the helper and wait until it has opened the port (:class:`MidiError` if it cannot)."""
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve, name="cak-midi-port", daemon=True,
                                    args=(child, self.port, self.api, self.virtual, self._watch_interval))
        self._process.start()
        child.close()
        if not self._conn.poll(START_TIMEOUT):
            self.stop()
            raise MidiError(f"the MIDI helper process did not open {self.port!r} within {START_TIMEOUT:.0f} s")
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            self.stop()
            raise MidiError("the MIDI helper process exited before opening the port") from None
        if kind == "error":
            self.stop()
            raise MidiError(payload)
        self.port_name = payload
        self._reader = threading.Thread(target=self._read, name="cak-midi", daemon=True)
        self._reader.start()

    def stop(self) -> None:
        """Stop the helper (it closes the port) and the reader thread."""
        if self._conn is not None:
            try:
                self._conn.send("stop")
            except OSError:
                pass
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join()
            self._process = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> MidiControl:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _read(self) -> None:
        conn = self._conn
        while True:
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):
                return
            if kind == "midi":
                for message in payload:
                    self.handle(message)
            elif kind == "dropped":
                self.dropped = payload
            elif kind == "lost":
                self.lost = True
            elif kind == "open":
                self.port_name, self.lost = payload, False

    # -- parsing -----------------------------------------------------------------------------
    def handle(self, message: list[int]) -> None:
        """Apply one MIDI message (running in the reader thread)."""
        if not message or any(b > 255 for b in message) or any(b > 127 for b in message[1:]):
            return
        kind, channel = message[0] & 0xF0, (message[0] & 0x0F) + 1
        if kind == 0xC0 and len(message) == 2:
            if self.program is not None and self.program_channel in (None, channel):
                self.events += 1
                self.program(message[1])
        elif kind == 0xB0 and len(message) == 3:
            self._control_change(channel, message[1], message[2])
        elif kind in (0x80, 0x90) and len(message) == 3:
            held = kind == 0x90 and message[2] > 0
            for m in self.mappings:
                if m.note == message[1] and m.channel in (None, channel):
                    self.events += 1
                    self.setters[m.target](1.0 if held else 0.0)

    def _control_change(self, channel: int, cc: int, value: int) -> None:
        if self.learning:
            self._learn(channel, cc)
        for i, m in enumerate(self.mappings):
            if m.cc is None or m.note is not None or m.channel not in (None, channel):
                continue
            if cc == m.cc:
                if m.fine:
                    self._msb[i] = value
                    x = (value << 7) / 16383.0
                else:
                    x = value / 127.0
            elif m.fine and cc == m.cc + 32:
                x = ((self._msb[i] << 7) | value) / 16383.0
            else:
                continue
            self.events += 1
            self.setters[m.target](m.value(x))

    def learn(self, target: str) -> None:
        """Bind ``target`` (replacing its controller mappings) to the next controller that moves
        and is not mapped to anything else (any thread; the page's MIDI learn)."""
        if target not in self.setters:
            raise ValueError(f"no setter for MIDI target {target!r}")
        low, high = TARGETS.get(target, (None, None))
        kept = [m for m in self.mappings if m.target != target or m.note is not None]
        self._msb = [0] * (len(kept) + 1)  # grown before the list the reader thread indexes with it
        self.mappings = kept + [CCMapping(cc=None, target=target, low=low, high=high)]
        self.learning = True

    def _learn(self, channel: int, cc: int) -> None:
        """Bind the unbound mapping to ``cc`` unless another mapping uses it."""
        taken = {m.cc for m in self.mappings if m.cc is not None} | {
            m.cc + 32 for m in self.mappings if m.cc is not None and m.fine}
        knob = next((m for m in self.mappings if m.cc is None and m.note is None), None)
        if knob is None:
            self.learning = False
            return
        if cc in taken or (knob.fine and cc >= 32):
            return
        knob.cc, knob.channel, self.learning = cc, channel, False
