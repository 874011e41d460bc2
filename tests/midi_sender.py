"""A JACK MIDI output port in a process of its own, driven by lines on stdin (each answered "ok"):

    open             create client NAME with output port PORT
    close            delete it (the port vanishes)
    send B0 0A 7F    send one message (hex bytes)
    ports            answer "ok" and the MIDI ports this client sees, inputs then outputs, tab-separated

Tests never make an rtmidi JACK client in their own process: rtmidi's JACK activation holds the
GIL while JACK waits for a cycle of every client, and the harness's player and recorder (and a
live host's stream) run Python process callbacks that need the GIL, so the test process would
deadlock with the server (seen as a hang in ``jack_activate``). :class:`MidiSender` runs this
script and gives the tests ``send_message`` as rtmidi's ``MidiOut`` does.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rtmidi


class MidiSender:
    """The script above in a subprocess: client ``cak-test-NAME`` with output port ``port``."""

    def __init__(self, port: str, name: str | None = None, open_now: bool = True) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.midi_sender", name or f"cak-test-{port}", port],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=Path(__file__).resolve().parents[1])
        if open_now:
            self("open")

    def __call__(self, command: str) -> str:
        """Send one command line; returns what follows "ok" on the answer line."""
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().rstrip("\n")
        assert answer.startswith("ok"), f"MIDI sender failed on {command!r}: {answer!r}"
        return answer[3:]

    def send_message(self, message: list[int]) -> None:
        self("send " + " ".join(f"{byte:02X}" for byte in message))

    def ports(self) -> list[str]:
        """Every MIDI port name the sender's client sees (inputs and outputs)."""
        return [name for name in self("ports").split("\t") if name]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)


def main(name: str, port: str) -> None:
    out = None
    for line in sys.stdin:
        command, *args = line.split()
        answer = "ok"
        if command == "open":
            out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
            out.open_virtual_port(port)
        elif command == "close":
            out.close_port()
            out.delete()
            out = None
        elif command == "send":
            out.send_message([int(a, 16) for a in args])
        elif command == "ports":
            listing = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{name}-list")
            names = (out.get_ports() if out is not None else []) + listing.get_ports()
            listing.delete()
            answer = "ok " + "\t".join(names)
        print(answer, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
