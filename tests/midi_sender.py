"""A JACK MIDI output port in a process of its own, driven by lines on stdin (each answered "ok"):

    open             create client NAME with output port PORT
    close            delete it (the port vanishes)
    send B0 0A 7F    send one message (hex bytes)

Tests need it to make a port vanish and return while a stream runs: rtmidi's JACK activation
holds the GIL, so doing it in the test process would deadlock against the Python audio callback.
"""
from __future__ import annotations

import sys

import rtmidi


def main(name: str, port: str) -> None:
    out = None
    for line in sys.stdin:
        command, *args = line.split()
        if command == "open":
            out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
            out.open_virtual_port(port)
        elif command == "close":
            out.close_port()
            out.delete()
            out = None
        elif command == "send":
            out.send_message([int(a, 16) for a in args])
        print("ok", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
