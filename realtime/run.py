"""``cak live`` and ``cak devices``: glue between the command line and :class:`LiveHost`."""
from __future__ import annotations

import argparse
import sys
import time

from cak_dsp import Preset

from .devices import device_table
from .midi import TARGETS, CCMapping, MidiControl
from .midimap import MidiMap, load_midi_map
from .status import status_line, summary_text
from .stream import LiveConfig, LiveHost

STATUS_INTERVAL = 0.25
# the flags that describe mappings; a mapping file replaces them all
MAPPING_FLAGS = ("cc", "cc_channel", "cc_range", "cc_curve", "cc_14bit", "mix_cc", "gain_cc", "gain_range",
                 "bypass_cc", "bypass_note")


def midi_map_from_args(args: argparse.Namespace) -> MidiMap:
    """The mappings of ``cak live``: the ``--midi-map`` file, or the flags; plus ``--program``."""
    flags = [name for name in MAPPING_FLAGS if getattr(args, name) not in (None, False)]
    if args.midi_map is not None:
        if flags:
            raise ValueError(f"--{flags[0].replace('_', '-')} cannot be combined with --midi-map; "
                             "put every mapping in the file")
        midi_map = load_midi_map(args.midi_map)
    else:
        channel = args.cc_channel
        low, high = args.cc_range or TARGETS["texture"]
        controls = [CCMapping(cc=1 if args.cc is None else args.cc, channel=channel, low=low, high=high,
                              curve=args.cc_curve or 1.0, fine=args.cc_14bit)]
        if args.mix_cc is not None:
            controls.append(CCMapping(target="mix", cc=args.mix_cc, channel=channel, low=0.0, high=1.0))
        if args.gain_cc is not None:
            low, high = args.gain_range or TARGETS["gain"]
            controls.append(CCMapping(target="gain", cc=args.gain_cc, channel=channel, low=low, high=high))
        if args.bypass_cc is not None:
            controls.append(CCMapping(target="bypass", cc=args.bypass_cc, channel=channel))
        if args.bypass_note is not None:
            controls.append(CCMapping(target="bypass", note=args.bypass_note, channel=channel))
        midi_map = MidiMap(controls=controls, program_channel=channel)
    midi_map.programs.update(parse_programs(args.program or []))
    return midi_map


def parse_programs(specs: list[str]) -> dict[int, str]:
    """``["0=drums", "1=melodic"]`` -> ``{0: "drums", 1: "melodic"}`` (program numbers 0..127)."""
    programs = {}
    for spec in specs:
        number, sep, preset = spec.partition("=")
        if not sep or not number.strip().isdigit() or not 0 <= int(number) <= 127 or not preset.strip():
            raise ValueError(f"--program {spec!r}: expected NUMBER=PRESET with a program number 0..127, "
                             "e.g. --program 0=drums")
        programs[int(number)] = preset.strip()
    return programs


def resolve_programs(programs: dict[int, str]) -> dict[int, Preset]:
    """Load each program's preset once (programs naming the same preset share one engine)."""
    from cak_dsp.presets import resolve_preset

    loaded: dict[str, Preset] = {}
    for name in programs.values():
        if name not in loaded:
            loaded[name] = resolve_preset(name)
    return {number: loaded[name] for number, name in programs.items()}


def parse_input_channels(text: str) -> tuple[int, ...]:
    """``"3,4"`` -> ``(3, 4)``: 1-based device input channels."""
    try:
        channels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channel numbers like 3,4, got {text!r}") from None
    if not channels or min(channels) < 1:
        raise argparse.ArgumentTypeError(f"input channels are numbered from 1, got {text!r}")
    return channels


def run_live(config: LiveConfig, duration: float | None, show_status: bool = True,
             midi: dict | None = None) -> int:
    """Run the host until ``duration`` seconds pass or Ctrl-C; print the status line and a summary.

    ``midi`` holds :class:`MidiControl` keyword arguments (mappings, port, api, virtual, learn,
    program_channel); the host supplies the setters and the program switch.
    """
    host = LiveHost(config)
    control = None if midi is None else MidiControl(setters=host.setters(), program=host.set_program, **midi)
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
    return 130 if interrupted else 0


def print_devices() -> int:
    print(device_table())
    return 0
