"""Running the live host from plain values: :func:`run_live` takes a :class:`LiveConfig` and
:class:`MidiSettings` (the command line's translation from its options lives in ``cak_cli.live``),
:func:`print_devices` lists the audio devices."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from cak_dsp import Preset

from .devices import device_table
from .midi import CCMapping, MidiControl
from .status import status_line, summary_text
from .stream import LiveConfig, LiveHost

STATUS_INTERVAL = 0.25


@dataclass
class MidiSettings:
    """The MIDI input of a live run: the mappings (:class:`CCMapping`), the port (a name substring,
    or the name of the port to create with ``virtual``), the rtmidi API, ``learn`` (the first
    controller moved becomes the texture knob) and the channel Program Change listens on."""

    mappings: list[CCMapping] = field(default_factory=list)
    port: str | None = None
    api: str = "default"
    virtual: bool = False
    learn: bool = False
    program_channel: int | None = None


def resolve_programs(programs: dict[int, str]) -> dict[int, Preset]:
    """Load each program's preset once (programs naming the same preset share one engine)."""
    from cak_dsp.presets import resolve_preset

    loaded: dict[str, Preset] = {}
    for name in programs.values():
        if name not in loaded:
            loaded[name] = resolve_preset(name)
    return {number: loaded[name] for number, name in programs.items()}


def run_live(config: LiveConfig, duration: float | None, show_status: bool = True,
             midi: MidiSettings | None = None) -> int:
    """Run the host until ``duration`` seconds pass or Ctrl-C; print the status line and a summary.

    ``midi``: listen on a MIDI input (the host supplies the setters and the program switch).
    """
    host = LiveHost(config)
    control = None
    if midi is not None:
        control = MidiControl(mappings=midi.mappings, setters=host.setters(), port=midi.port, api=midi.api,
                              virtual=midi.virtual, learn=midi.learn, program=host.set_program,
                              program_channel=midi.program_channel)
    interactive = show_status and sys.stderr.isatty()
    interrupted = False
    if control is not None:
        control.start()
        bound = ", ".join(f"{m.target} <- " + (f"note {m.note}" if m.note is not None else f"CC {m.cc}")
                          for m in control.mappings if m.cc is not None or m.note is not None)
        print(f"MIDI: {control.port_name}; {bound or 'nothing bound'}"
              + ("; move a controller to bind it to c" if control.learning else ""), file=sys.stderr)
    what = f"chain ({len(config.chain.stages)} stages)" if config.chain is not None else f"preset '{host.program_name}'"
    print(f"cak live: {what}, {host.samplerate} Hz, {config.channels} ch, block {config.blocksize or 'driver'}"
          + (f", {len(host.bank.presets)} programs" if host.bank is not None and len(host.bank.presets) > 1 else "")
          + "; Ctrl-C stops", file=sys.stderr)
    try:
        host.start()
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
    for line in host.processor.repairs():
        print(f"cak live: {line}", file=sys.stderr)
    if control is not None and control.dropped:
        print(f"MIDI: {control.dropped} message(s) lost in rtmidi's full input queue", file=sys.stderr)
    return 130 if interrupted else 0


def print_devices() -> int:
    print(device_table())
    return 0
