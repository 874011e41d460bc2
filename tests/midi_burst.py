"""A JACK MIDI output that sends bursts of Control Changes, in a process of its own (rtmidi's JACK
activation holds the GIL, which would deadlock against a Python audio callback in the test
process), driven by lines on stdin, each answered with one line:

    burst COUNT MILLISECONDS CC LAST   ->  "sent COUNT SECONDS"

sends COUNT messages ``B0 CC value`` (values counting up modulo 128, the last one LAST), paced
evenly over MILLISECONDS in slices of a millisecond, and answers with the time it took.
"""
from __future__ import annotations

import sys
import time

import rtmidi


def main(name: str, port: str) -> None:
    out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
    out.open_virtual_port(port)
    print("ready", flush=True)
    for line in sys.stdin:
        command, *args = line.split()
        if command == "burst":
            count, ms, cc, last = int(args[0]), float(args[1]), int(args[2]), int(args[3])
            messages = [[0xB0, cc, (last - count + 1 + i) % 128] for i in range(count)]
            slices = max(int(ms), 1)
            start = time.perf_counter()
            for s in range(slices):
                for message in messages[s * count // slices:(s + 1) * count // slices]:
                    out.send_message(message)
                wait = start + (s + 1) * ms * 1e-3 / slices - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            print(f"sent {count} {time.perf_counter() - start:.4f}", flush=True)
    out.close_port()
    out.delete()


if __name__ == "__main__":
    main(*sys.argv[1:3])
