"""``cak live`` and ``cak devices``: parse-level glue between the command line and :class:`LiveHost`."""
from __future__ import annotations

import sys
import time

from .devices import device_table
from .midi import MidiControl
from .status import status_line, summary_text
from .stream import LiveConfig, LiveHost

STATUS_INTERVAL = 0.25


def run_live(config: LiveConfig, duration: float | None, show_status: bool = True,
             midi: dict | None = None) -> int:
    """Run the host until ``duration`` seconds pass or Ctrl-C; print the status line and a summary.

    ``midi`` holds :class:`MidiControl` keyword arguments (mapping, port, api, virtual, learn).
    """
    host = LiveHost(config)
    control = None if midi is None else MidiControl(set_value=host.set_texture, **midi)
    interactive = show_status and sys.stderr.isatty()
    interrupted = False
    if control is not None:
        control.start()
        print(f"MIDI: {control.port_name}, " + ("move a controller to bind it" if control.learning else
              f"CC {control.mapping.cc}"), file=sys.stderr)
    print(f"cak live: preset '{config.preset.name}', {host.samplerate} Hz, {config.channels} ch, "
          f"block {config.blocksize or 'driver'}; Ctrl-C stops", file=sys.stderr)
    host.start()
    try:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            time.sleep(STATUS_INTERVAL if end is None else max(0.0, min(STATUS_INTERVAL, end - time.monotonic())))
            host.check_alive()
            if interactive:
                line = status_line(host.snapshot())
                if control is not None:
                    line += f"  midi {control.events}" + (" LOST" if control.lost else "")
                print("\r" + line, end="\x1b[K", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        host.stop()
        if control is not None:
            control.stop()
        if interactive:
            print(file=sys.stderr)
    print(summary_text(host), file=sys.stderr)
    return 130 if interrupted else 0


def print_devices() -> int:
    print(device_table())
    return 0

