"""The MIDI input port, run in a helper process so that opening it can never deadlock the audio.

rtmidi's JACK backend activates a JACK client without releasing the GIL, and JACK completes
the activation only after the current cycle, whose PortAudio callback is Python code that needs
the GIL: in the audio process, opening (or re-opening) a JACK MIDI port while the stream runs
deadlocks both. :func:`serve` therefore runs in a process of its own (``multiprocessing``
spawn: a fresh interpreter that imports only rtmidi), with its own GIL, and forwards what it
sees through a pipe as small tuples:

* ``("open", port_name)`` -- the port is open (again)
* ``("lost", None)``      -- the port vanished; it is re-opened when a matching port returns
* ``("midi", [[bytes], ...])`` -- the messages since the last look, unparsed (the audio
  process decides what they mean), with only the newest of each controller, pitch bend and
  note (see :func:`newest`)
* ``("dropped", n)``      -- rtmidi's input queue overflowed: ``n`` messages lost so far
* ``("error", text)``     -- the port cannot be opened at all (sent once, then the helper exits)

The helper stops when it receives anything or when the pipe closes (its parent died). It takes
messages from rtmidi's queue every millisecond (see :class:`_Port` for why not a callback) and
looks for the port every ``watch_interval`` seconds.

Bursts. A controller swept by software can send thousands of messages in a few milliseconds;
only the newest value of each control matters, so the helper forwards just that, and the last
value always wins. rtmidi's queue holds ``QUEUE_SIZE`` messages between two looks; when it
overflows, rtmidi writes a warning per lost message straight to the process's stderr, so the
helper routes its own stderr through a counter (:class:`_StderrCounter`) and reports the
number, which the host prints once.
"""
from __future__ import annotations

import os
import threading
import time
from multiprocessing.connection import Connection

import rtmidi

APIS = {"alsa": rtmidi.API_LINUX_ALSA, "jack": rtmidi.API_UNIX_JACK, "coremidi": rtmidi.API_MACOSX_CORE,
        "winmm": rtmidi.API_WINDOWS_MM, "default": rtmidi.API_UNSPECIFIED}
CLIENT_NAME = "cak"
POLL_S = 0.001     # how often the helper looks at rtmidi's queue (the MIDI latency it adds, at most)
QUEUE_SIZE = 1 << 16  # messages rtmidi keeps between two looks (about 2 MB)
DROP_WARNING = b"queue limit reached"  # what rtmidi prints to stderr for each message it loses


class MidiError(OSError):
    """No such MIDI port, or the MIDI API is unavailable."""


def check_api(api: str) -> int:
    if api not in APIS:
        raise MidiError(f"unknown MIDI API {api!r}; choose one of: {', '.join(APIS)}")
    return APIS[api]


def list_ports(api: str = "default") -> list[str]:
    """Names of the MIDI input ports ``api`` sees."""
    midi = rtmidi.MidiIn(check_api(api), name=f"{CLIENT_NAME}-list")
    try:
        return midi.get_ports()
    finally:
        midi.delete()


class _Port:
    """One open rtmidi input. Messages wait in rtmidi's own queue, filled by its JACK or ALSA
    thread without the GIL, and :meth:`drain` takes them out; with a Python callback instead,
    that thread would wait for the GIL while the watchdog's port queries hold it, miss JACK
    cycles, and deliver MIDI events twice or not at all."""

    def __init__(self, api: int, port: str | None, virtual: bool) -> None:
        try:
            midi = rtmidi.MidiIn(api, name=CLIENT_NAME, queue_size_limit=QUEUE_SIZE)
        except rtmidi.SystemError as exc:
            raise MidiError(f"MIDI API unavailable: {exc}") from None
        midi.ignore_types(sysex=True, timing=True, active_sense=True)
        if virtual:
            self.name = port or "texture"
            midi.open_virtual_port(self.name)
        else:
            names = midi.get_ports()
            matches = [i for i, name in enumerate(names) if port.lower() in name.lower()]
            if not matches:
                midi.delete()
                raise MidiError(f"no MIDI input port matching {port!r} (ports: {', '.join(names) or 'none'}); "
                                "list them with: cak midi-ports")
            midi.open_port(matches[0])
            self.name = names[matches[0]]
        self._midi = midi

    def drain(self, conn: Connection) -> None:
        messages = []
        while (event := self._midi.get_message()) is not None:
            messages.append(event[0])
        if messages:
            conn.send(("midi", newest(messages)))

    def close(self) -> None:
        self._midi.close_port()
        self._midi.delete()


def newest(messages: list[list[int]]) -> list[list[int]]:
    """``messages`` with only the last of each control change (per channel and controller),
    note (per channel and note number, on or off), pitch bend and channel pressure (per
    channel), in the order of those last ones; anything else (program changes included: each
    one is an event) is kept as it is."""
    last: dict[tuple[int, ...], int] = {}
    keep = []
    for i, message in enumerate(messages):
        status = message[0] if message else 0
        kind = status & 0xF0
        if kind in (0xB0, 0xA0) and len(message) == 3:
            last[(status, message[1])] = i
        elif kind in (0x80, 0x90) and len(message) == 3:
            last[(0x90 | (status & 0x0F), message[1])] = i
        elif kind in (0xD0, 0xE0):
            last[(status,)] = i
        else:
            keep.append(i)
    return [messages[i] for i in sorted(keep + list(last.values()))]


class _StderrCounter:
    """Route this process's stderr (file descriptor 2, where rtmidi's C++ code writes) through a
    pipe: rtmidi's lost-message warnings are counted, everything else passes on unchanged."""

    def __init__(self) -> None:
        self.dropped = 0
        self._stderr = os.dup(2)
        read, write = os.pipe()
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        threading.Thread(target=self._pump, name="cak-midi-stderr", daemon=True).start()

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self._read, 1 << 16):
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            passed = []
            for line in lines:
                if DROP_WARNING in line:
                    self.dropped += 1
                elif line or passed:
                    passed.append(line)
            if passed:
                os.write(self._stderr, b"\n".join(passed) + b"\n")

    def close(self) -> None:
        """Give the process its stderr back (the pipe's reader then ends)."""
        os.dup2(self._stderr, 2)


def serve(conn: Connection, port: str | None, api: str, virtual: bool, watch_interval: float) -> None:
    """The helper process: open the port, forward messages, watch for it vanishing and returning."""
    stderr = _StderrCounter()
    reported = 0
    try:
        current: _Port | None = _Port(check_api(api), port, virtual)
    except MidiError as exc:
        stderr.close()
        conn.send(("error", str(exc)))
        return
    conn.send(("open", current.name))
    probe = None if virtual else rtmidi.MidiIn(APIS[api], name=f"{CLIENT_NAME}-probe")
    next_watch = time.monotonic() + watch_interval
    try:
        while not conn.poll(POLL_S):
            if current is not None:
                current.drain(conn)
            if stderr.dropped != reported:
                reported = stderr.dropped
                conn.send(("dropped", reported))
            if probe is None or time.monotonic() < next_watch:
                continue
            next_watch = time.monotonic() + watch_interval
            present = any(port.lower() in name.lower() for name in probe.get_ports()
                          if not name.startswith(f"{CLIENT_NAME}:"))
            if current is not None and not present:
                current.close()
                current = None
                conn.send(("lost", None))
            elif current is None and present:
                try:
                    current = _Port(APIS[api], port, virtual)
                except MidiError:
                    continue
                conn.send(("open", current.name))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent went away
    finally:
        if current is not None:
            current.close()
        if probe is not None:
            probe.delete()
        stderr.close()
