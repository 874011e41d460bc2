"""``cak live``: run CAK (or a chain) on an audio interface, with MIDI control.

The command line's options become plain values here: a :class:`cak_realtime.stream.LiveConfig`,
a :class:`cak_realtime.midimap.MidiMap` and a :class:`cak_realtime.run.MidiSettings`; the live
host never sees argparse.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from cak_dsp.jit_cache import announce_compile
from cak_dsp.level import CEILING_RANGE_DB

from .options import (add_chain, add_geometry, add_midi_api, add_midi_map, add_preset, add_sound_options, add_texture,
                      add_texture_cc)

EPILOG = """\
MIDI mapping file (--midi-map), JSON:
  {"controls": [{"target": "texture", "cc": 74, "channel": 1, "range": [0, 1.5], "curve": 2},
                {"target": "mix", "cc": 7},
                {"target": "gain", "cc": 11, "range": [-40, 6]},
                {"target": "bypass", "cc": 64},
                {"target": "bypass", "note": 60, "channel": 10}],
   "programs": {"0": "drums", "1": "melodic", "5": "my-preset.json"},
   "program_channel": 1}
  target: texture (c), mix (0..1), gain (dB) or bypass. cc: 0..127 (0..31 with "14bit": true: MSB,
  LSB = cc + 32); note: bypass while held. channel: 1..16 (default any). range: values at 0 and at
  full scale (defaults: texture 0 1.5, mix 0 1, gain -60 6; within texture -10..10, mix 0..1, gain
  -120..40). curve: exponent 0.01..100 (default 1). A bypass CC is on at 64 and above. programs: Program Change number -> shipped preset or preset file (relative
  to the mapping file); --program N=PRESET adds to them.
  With --chain, a target may also be a stage's parameter, STAGE.PARAMETER: "stage 1.cutoff_frequency_hz"
  or by the stage's name, "hp.cutoff_frequency_hz"; "range" defaults to a VST3 parameter's own,
  "smoothing_ms" (default 20) glides it; see docs/plugins.md.

Program Change: every preset is prepared before the stream starts; on a change the incoming
engine is reset, runs silently until it has a full analysis context (latency + n_fft + one
trained hop: 116 ms at 48 kHz), then a 40 ms linear crossfade; presets of different latency are
delayed to the largest, so the reported latency never changes. Bypass fades in 20 ms to the
latency-compensated dry signal at unity gain."""

# the flags that describe mappings; a mapping file replaces them all
MAPPING_FLAGS = ("cc", "cc_channel", "cc_range", "cc_curve", "cc_14bit", "mix_cc", "gain_cc", "gain_range",
                 "bypass_cc", "bypass_note")


def _latency(text: str) -> str | float:
    if text in ("low", "high"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"latency must be 'low', 'high' or seconds, got {text!r}") from None


def input_channels(text: str) -> tuple[int, ...]:
    """``"3,4"`` -> ``(3, 4)``: 1-based device input channels."""
    try:
        channels = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected channel numbers like 3,4, got {text!r}") from None
    if not channels or min(channels) < 1:
        raise argparse.ArgumentTypeError(f"input channels are numbered from 1, got {text!r}")
    return channels


def add_parser(sub) -> None:
    p = sub.add_parser("live", help="run CAK live on an audio interface",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Open a duplex audio stream and run CAK (or a --chain) in its callback. The dry "
                                   "path of --mix and bypass is delayed by the processor latency, so they never "
                                   "comb.\nOn JACK, --blocksize 0 (the default) runs on JACK's period with no "
                                   "extra buffering; a fixed block adds one block of latency.",
                       epilog=EPILOG)
    p.set_defaults(handler=run, own_signals=True)  # the live host stops on Ctrl-C itself
    add_preset(p)
    add_texture(p, default=0.8, help="starting texture c, 0..2 (default 0.8)")
    add_sound_options(p, live=True)
    lo, hi = CEILING_RANGE_DB
    p.add_argument("--ceiling-db", type=float, default=0.0,
                   help=f"no output sample exceeds this level, dBFS ({lo:g}..{hi:g}; default 0)")
    p.add_argument("--input-device", "-i", default=None, help="input device: index or name substring (cak devices)")
    p.add_argument("--output-device", "-o", default=None, help="output device: index or name substring")
    p.add_argument("--channels", type=int, default=None,
                   help="channels processed, in and out (default 2, or as many as --input-channels)")
    p.add_argument("--input-channels", type=input_channels, default=None, metavar="N,N",
                   help="device input channels to process, 1-based, e.g. 3,4 (default: the first --channels)")
    add_chain(p, help="chain file (JSON/TOML, as for cak render --chain): plugins around CAK; --preset is then "
                      "unused and programs switch the chain's first CAK stage")
    p.add_argument("--save-chain", type=Path, default=None, metavar="FILE.json",
                   help="with --chain: when the run ends, write the chain with every plugin's state and parameter "
                        "as MIDI left it (as cak chain save; overwrites FILE.json)")
    p.add_argument("--samplerate", "-r", type=int, default=None, help="sample rate (default: the device's)")
    p.add_argument("--blocksize", "-b", type=int, default=0, help="frames per callback; 0 = the driver's (default)")
    p.add_argument("--latency", type=_latency, default="low",
                   help="'low', 'high' or seconds (PortAudio's suggestion; the engine's own latency is --geometry)")
    add_geometry(p)
    p.add_argument("--mix", type=float, default=1.0, help="wet share 0..1 (default 1: wet only)")
    p.add_argument("--output-gain", type=float, default=0.0, help="output gain in dB, -120..40 (default 0)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--quiet", "-q", action="store_true", help="no live status line")
    m = p.add_argument_group("MIDI control (python-rtmidi; see the mapping file format below)")
    m.add_argument("--midi-port", default=None, help="MIDI input port name substring (cak midi-ports), or the "
                                                     "name of the virtual port with --midi-virtual")
    m.add_argument("--midi-virtual", action="store_true", help="create a virtual MIDI input port to connect to")
    add_midi_api(m)
    add_midi_map(m, help="JSON mapping file (replaces the mapping flags below)")
    add_texture_cc(m, channel_scope=" of every flag mapping and of Program Change")
    m.add_argument("--cc-curve", type=float, default=None, help="exponent applied to the controller position (default 1)")
    m.add_argument("--cc-14bit", action="store_true", help="14-bit controller: --cc is the MSB, --cc + 32 the LSB")
    m.add_argument("--learn", action="store_true", help="the first controller moved becomes the texture knob")
    m.add_argument("--mix-cc", type=int, default=None, help="controller for the dry/wet mix (0..1)")
    m.add_argument("--gain-cc", type=int, default=None, help="controller for the output gain (dB, see --gain-range)")
    m.add_argument("--gain-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="output gain in dB at controller 0 and at full scale (default -60 6)")
    m.add_argument("--bypass-cc", type=int, default=None, help="controller for bypass (on at 64 and above)")
    m.add_argument("--bypass-note", type=int, default=None, help="note for bypass (bypassed while held)")
    m.add_argument("--program", action="append", default=None, metavar="N=PRESET",
                   help="Program Change N selects PRESET (repeatable; crossfades, see below)")


def midi_map_from_args(args: argparse.Namespace):
    """The mappings of ``cak live``: the ``--midi-map`` file, or the flags; plus ``--program``.
    Returns a :class:`cak_realtime.midimap.MidiMap`."""
    from cak_realtime.midi import TARGETS, CCMapping
    from cak_realtime.midimap import MidiMap, load_midi_map

    flags = [name for name in MAPPING_FLAGS if getattr(args, name) not in (None, False)]
    _check_mapping_flags(args)
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


def _check_mapping_flags(args: argparse.Namespace) -> None:
    """Each mapping flag's value within its range, as a mapping file's (one-line ValueError)."""
    from cak_realtime.midimap import check_byte, check_channel, check_curve, check_range

    if args.cc is not None:
        check_byte(args.cc, "--cc", 31 if args.cc_14bit else 127)
    for name in ("mix_cc", "gain_cc", "bypass_cc", "bypass_note"):
        if getattr(args, name) is not None:
            check_byte(getattr(args, name), f"--{name.replace('_', '-')}", 127)
    check_channel(args.cc_channel, "--cc-channel")
    if args.cc_range is not None:
        check_range(args.cc_range, "texture", "--cc-range")
    if args.gain_range is not None:
        check_range(args.gain_range, "gain", "--gain-range")
    if args.cc_curve is not None:
        check_curve(args.cc_curve, "--cc-curve")


def check_numbers(args: argparse.Namespace) -> None:
    """``cak live``'s own numbers, before anything opens: one-line ValueError naming the option,
    the value and the range (the rest are checked by the mapping and LiveConfig checks)."""
    from cak_dsp.level import ceiling_from_db
    from cak_realtime.mixer import GAIN_RANGE_DB

    if not (math.isfinite(args.mix) and 0.0 <= args.mix <= 1.0):
        raise ValueError(f"--mix must be from 0 to 1, got {args.mix}")
    lo, hi = GAIN_RANGE_DB
    if not (math.isfinite(args.output_gain) and lo <= args.output_gain <= hi):
        raise ValueError(f"--output-gain must be from {lo:g} to {hi:g} dB, got {args.output_gain}")
    try:
        ceiling_from_db(args.ceiling_db)
    except ValueError as exc:
        raise ValueError(f"--ceiling-db: {exc}") from None
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise ValueError(f"--duration must be a positive number of seconds, got {args.duration}")


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


def run(args: argparse.Namespace) -> int:
    from cak_dsp.chain_file import load_chain
    from cak_dsp.control_files import bind_midi_map
    from cak_dsp.presets import resolve_preset
    from cak_realtime.run import MidiSettings, resolve_programs, run_live
    from cak_realtime.stream import LiveConfig

    check_numbers(args)
    announce_compile()
    midi_map = midi_map_from_args(args)
    programs = resolve_programs(midi_map.programs)
    chain = load_chain(args.chain) if args.chain is not None else None
    bind_midi_map(chain, midi_map.controls, args.midi_map)
    if args.save_chain is not None and (chain is None or args.save_chain.suffix.lower() != ".json"):
        raise ValueError(f"--save-chain {args.save_chain}: needs --chain and a .json file name")
    start = None if chain is not None else resolve_preset(args.preset) if args.preset or not programs \
        else next(iter(programs.values()))
    channels = args.channels if args.channels is not None else len(args.input_channels) if args.input_channels else 2
    config = LiveConfig(preset=start, texture=args.texture, mode=args.mode, level=args.level,
                        soft_clip=args.soft_clip, ceiling_db=args.ceiling_db, geometry=args.geometry,
                        input_device=args.input_device, output_device=args.output_device,
                        channels=channels, samplerate=args.samplerate, blocksize=args.blocksize,
                        latency=args.latency, mix=args.mix, output_gain=10 ** (args.output_gain / 20),
                        programs=programs, chain=chain, input_channels=args.input_channels)
    midi = None
    if args.midi_port or args.midi_virtual or args.learn:
        midi = MidiSettings(mappings=midi_map.controls, program_channel=midi_map.program_channel,
                            port=args.midi_port, api=args.midi_api, virtual=args.midi_virtual, learn=args.learn)
    status = run_live(config, args.duration, show_status=not args.quiet, midi=midi)
    if args.save_chain is not None:
        from cak_dsp.chain_save import save_chain

        save_chain(chain, args.save_chain, force=True)
        print(f"wrote {args.save_chain}", file=sys.stderr)
    return status
