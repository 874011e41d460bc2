"""The ``cak`` command line: render files, inspect and import presets, run the demo, train.

Only ``cak preset import`` and ``cak train`` load torch, and only when they run.
"""
from __future__ import annotations

import argparse
import math
import sys
import textwrap
from pathlib import Path

from .engine import TEXTURE_RANGE
from .jit_cache import announce_compile
from .level import CEILING_RANGE_DB, LEVEL_MODES
from .normalization import DEFAULT_MODE, MODES
from .presets import DEFAULT_PRESET, shipped_presets

EXIT_ERROR = 2
COMMON_RATES = (44100, 48000, 88200, 96000)


def _texture(text: str) -> float:
    lo, hi = TEXTURE_RANGE
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not lo <= value <= hi:
        raise argparse.ArgumentTypeError(f"texture must be between {lo} and {hi}, got {value}")
    return value


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _latency(text: str) -> str | float:
    if text in ("low", "high"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"latency must be 'low', 'high' or seconds, got {text!r}") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _input_channels(text: str) -> tuple[int, ...]:
    from cak_realtime.run import parse_input_channels

    return parse_input_channels(text)


_LIVE_EPILOG = """\
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
  full scale (defaults: texture 0 1.5, mix 0 1, gain -60 6). curve: exponent (default 1). A bypass CC
  is on at 64 and above. programs: Program Change number -> shipped preset or preset file (relative
  to the mapping file); --program N=PRESET adds to them.
  With --chain, a target may also be a stage's parameter, STAGE.PARAMETER: "stage 1.cutoff_frequency_hz"
  or by the stage's name, "hp.cutoff_frequency_hz"; "range" defaults to a VST3 parameter's own,
  "smoothing_ms" (default 20) glides it; see docs/plugins.md.

Program Change: every preset is prepared before the stream starts; on a change the incoming
engine is reset, runs silently until it has a full analysis context (latency + n_fft + one
trained hop: 116 ms at 48 kHz), then a 40 ms linear crossfade; presets of different latency are
delayed to the largest, so the reported latency never changes. Bypass fades in 20 ms to the
latency-compensated dry signal at unity gain."""


def _add_sound_options(p: argparse.ArgumentParser, live: bool) -> None:
    """``--mode``, ``--level`` and ``--soft-clip``: the same three options on every command that makes sound."""
    p.add_argument("--mode", choices=tuple(MODES), default=DEFAULT_MODE,
                   help="'gain' (default): the published CAK effect applied as a per-bin gain to the input "
                        "(identity at c = 0, bins above the published spectral ceiling kept, not flattened); "
                        "'reference': the published inference math exactly")
    default = "each CAK stage's own; 'match' runs as 'follow' live" if live else "match, or each chain stage's own"
    p.add_argument("--level", choices=LEVEL_MODES, default=None,
                   help="loudness: 'match' the whole file's RMS to the input's as the published GUI did "
                        "(offline: two passes), 'follow' it with a 2 s loudness follower (live and offline "
                        f"alike), or 'off' (the raw published level, 7-19 dB louder). Default: {default}")
    p.add_argument("--soft-clip", action=argparse.BooleanOptionalAction, default=None,
                   help="the published tanh soft clip after the level stage, blended in by the texture's gate "
                        "so c = 0 stays the identity (default: on)")


def _preset_help() -> str:
    names = ", ".join(shipped_presets()) or "none yet"
    return f"preset JSON file, or the name of a shipped preset ({names}); default: {DEFAULT_PRESET}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cak",
        description="CAK: a learned 3x3 spectral audio effect (arXiv 2508.02643) as a real-time instrument. "
                    "The texture knob c runs from 0 (no effect, exact identity) to 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("render", help="process audio files offline, through CAK or a whole chain",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=textwrap.fill(
                                   "Process an audio file, or every audio file in a folder tree, through CAK "
                                   "(--preset) or a chain of pedalboard plugins and CAK stages (--chain). Reads "
                                   "WAV, FLAC, AIFF, OGG and MP3; writes WAV, FLAC, AIFF, OGG or MP3 (from the "
                                   "output's extension). The output lines up with the input sample for sample "
                                   "and has the same length (the chain's latency is removed); --tail keeps "
                                   "reverb and delay tails. Files are streamed in blocks, written under a "
                                   "temporary name and renamed when complete; the input is never touched.", 78),
                       epilog="chain file (JSON; TOML with [[stages]] works too):\n"
                              '  {"format": "cak-chain", "version": 1, "stages": [\n'
                              '    {"type": "HighpassFilter", "cutoff_frequency_hz": 80},\n'
                              '    {"type": "cak", "preset": "drums", "texture": 0.8},\n'
                              '    {"type": "Compressor", "threshold_db": -18, "ratio": 3},\n'
                              '    {"type": "plugin", "path": "Shimmer.vst3", "parameters": {"mix": 0.3}}]}\n'
                              "Any pedalboard effect by class name with its parameters; 'plugin' loads a "
                              "VST3/AU.\n\n"
                              "folders: cak render IN_DIR OUT_DIR renders every audio file under IN_DIR to the "
                              "same relative path under OUT_DIR, skipping outputs that exist (unless --force); "
                              "a bad file is reported by name and the rest go on; the exit status is 1 if any "
                              "file failed.")
    p.add_argument("input", type=Path, help="input audio file or folder")
    p.add_argument("output", type=Path, help="output audio file (format from its extension) or folder")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--preset", "-p", default=None, help=_preset_help())
    what.add_argument("--chain", type=Path, default=None, help="chain file (JSON or TOML) of plugins and CAK stages")
    knob = p.add_mutually_exclusive_group()
    knob.add_argument("--texture", "-c", type=_texture, default=None,
                      help="texture amount c, 0..2, for every CAK stage (default 0.8, or the chain file's)")
    knob.add_argument("--automation", "-a", type=Path, default=None,
                      help="texture envelope: a CSV of time,value lines (seconds, c; linear) or a MIDI file "
                           "whose --cc moves c (held between messages)")
    p.add_argument("--interpolation", choices=("linear", "hold"), default=None,
                   help="between automation points (default: linear for CSV, hold for MIDI)")
    p.add_argument("--cc", type=int, default=1, help="MIDI controller number for --automation FILE.mid (default 1)")
    p.add_argument("--cc-channel", type=int, default=None, help="MIDI channel 1..16 (default: any)")
    p.add_argument("--cc-range", type=float, nargs=2, default=(0.0, 1.5), metavar=("LOW", "HIGH"),
                   help="c at controller 0 and 127 (default 0 1.5, as cak live)")
    _add_sound_options(p, live=False)
    p.add_argument("--geometry", choices=("standard", "low-latency"), default="standard",
                   help="with --preset: frame geometry: 'standard' (default: the published frames, 58 ms at 44.1 kHz) or "
                        "'low-latency' (same bins, asymmetric windows: 14.5 ms, 2.9 ms for a causal preset; "
                        "the lowest latency the preset allows). 'cak preset show' lists both")
    p.add_argument("--tail", type=float, default=0.0, metavar="SECONDS",
                   help="keep this much of the chain's tail after the input ends (default 0: same length)")
    p.add_argument("--samplerate", "-r", type=int, default=None,
                   help="output sample rate: the input is resampled and the chain runs at this rate")
    p.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=None,
                   help="output sample format: 16 or 24-bit integer, 32 = float (default: the input's)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="folders: files rendered in parallel (default 1)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="folders: run the files on this Dask scheduler (tcp://host:8786) instead of locally")
    p.add_argument("--force", "-f", action="store_true", help="overwrite outputs that exist")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--midi-map", type=Path, default=None,
                   help="with --chain and --automation FILE.mid: the cak live mapping file; each of its controls "
                        "(texture, or a stage parameter such as hp.cutoff_frequency_hz) reads its controller from "
                        "the MIDI file, as live (docs/plugins.md)")
    p.add_argument("--automate", action="append", default=None, metavar="STAGE.PARAMETER=FILE.csv",
                   help="with --chain: a stage parameter follows a CSV envelope of time,value lines (seconds, the "
                        "parameter's units; linear), e.g. hp.cutoff_frequency_hz=sweep.csv (repeatable)")

    p = sub.add_parser("preset", help="inspect or import presets")
    psub = p.add_subparsers(dest="preset_command", required=True, metavar="ACTION")
    q = psub.add_parser("show", help="print a preset and its latency",
                        description="Print a preset's fields and the engine latency it implies.")
    q.add_argument("preset", nargs="?", default=None, help=_preset_help())
    q.add_argument("--sample-rate", "-r", type=int, action="append",
                   help=f"sample rate(s) to report latency at (default: {', '.join(map(str, COMMON_RATES))})")
    q = psub.add_parser("plot", help="draw a preset's kernel and its effect (PNG)",
                        description="Write a PNG with the 3x3 kernel as a frequency x time heat map, the "
                                    "residual gain against texture, and the average per-band change on the "
                                    "demo groove at several textures, in both modes.")
    q.add_argument("preset", nargs="?", default=None, help=_preset_help())
    q.add_argument("--output", "-o", type=Path, default=None, help="PNG to write (default: PRESET_NAME.png)")
    q.add_argument("--force", "-f", action="store_true", help="overwrite the output file if it exists")
    q = psub.add_parser("import", help="make a preset from the published PyTorch checkpoint (needs torch)",
                        description="Convert the original CAK project's checkpoint (generator state dict) and "
                                    "its normalization stats JSON into a cak preset.")
    q.add_argument("checkpoint", type=Path, help="checkpoint .pt file (e.g. final_wgan_grain.pt)")
    q.add_argument("--stats", type=Path, required=True, help="global_normalization_stats.json used in training")
    q.add_argument("--output", "-o", type=Path, required=True, help="preset JSON to write")
    q.add_argument("--name", default=None, help="preset name (default: the checkpoint's file name)")
    q.add_argument("--force", "-f", action="store_true", help="overwrite the output file if it exists")

    p = sub.add_parser("demo", help="render a generated clip dry and wet, with a spectrogram",
                       description="Render a generated 6 s stereo groove (drums and a pad) through a preset; "
                                   "writes dry.wav, wet.wav and spectrogram.png. No sound card needed.")
    p.add_argument("--output-dir", "-o", type=Path, default=Path("demo_out"), help="folder for the files (default: demo_out)")
    p.add_argument("--preset", "-p", default=None, help=_preset_help())
    p.add_argument("--texture", "-c", type=_texture, default=1.0, help="texture amount c, 0..2 (default 1.0)")
    _add_sound_options(p, live=False)

    p = sub.add_parser("live", help="run CAK live on an audio interface",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Open a duplex audio stream and run CAK (or a --chain) in its callback. The dry "
                                   "path of --mix and bypass is delayed by the processor latency, so they never "
                                   "comb.\nOn JACK, --blocksize 0 (the default) runs on JACK's period with no "
                                   "extra buffering; a fixed block adds one block of latency.",
                       epilog=_LIVE_EPILOG)
    p.add_argument("--preset", "-p", default=None, help=_preset_help())
    p.add_argument("--texture", "-c", type=_texture, default=0.8, help="starting texture c, 0..2 (default 0.8)")
    _add_sound_options(p, live=True)
    lo, hi = CEILING_RANGE_DB
    p.add_argument("--ceiling-db", type=float, default=0.0,
                   help=f"no output sample exceeds this level, dBFS ({lo:g}..{hi:g}; default 0)")
    p.add_argument("--input-device", "-i", default=None, help="input device: index or name substring (cak devices)")
    p.add_argument("--output-device", "-o", default=None, help="output device: index or name substring")
    p.add_argument("--channels", type=int, default=None,
                   help="channels processed, in and out (default 2, or as many as --input-channels)")
    p.add_argument("--input-channels", type=_input_channels, default=None, metavar="N,N",
                   help="device input channels to process, 1-based, e.g. 3,4 (default: the first --channels)")
    p.add_argument("--chain", type=Path, default=None,
                   help="chain file (JSON/TOML, as for cak render --chain): plugins around CAK; --preset is then "
                        "unused and programs switch the chain's first CAK stage")
    p.add_argument("--save-chain", type=Path, default=None, metavar="FILE.json",
                   help="with --chain: when the run ends, write the chain with every plugin's state and parameter "
                        "as MIDI left it (as cak chain save; overwrites FILE.json)")
    p.add_argument("--samplerate", "-r", type=int, default=None, help="sample rate (default: the device's)")
    p.add_argument("--blocksize", "-b", type=int, default=0, help="frames per callback; 0 = the driver's (default)")
    p.add_argument("--latency", type=_latency, default="low",
                   help="'low', 'high' or seconds (PortAudio's suggestion; the engine's own latency is --geometry)")
    p.add_argument("--geometry", choices=("standard", "low-latency"), default="standard",
                   help="frame geometry: 'standard' (default: the published frames, 58 ms at 44.1 kHz) or "
                        "'low-latency' (same bins, asymmetric windows: 14.5 ms, 2.9 ms for a causal preset; "
                        "the lowest latency the preset allows). 'cak preset show' lists both")
    p.add_argument("--mix", type=_unit, default=1.0, help="wet share 0..1 (default 1: wet only)")
    p.add_argument("--output-gain", type=float, default=0.0, help="output gain in dB (default 0)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: Ctrl-C)")
    p.add_argument("--quiet", "-q", action="store_true", help="no live status line")
    m = p.add_argument_group("MIDI control (python-rtmidi; see the mapping file format below)")
    m.add_argument("--midi-port", default=None, help="MIDI input port name substring (cak midi-ports), or the "
                                                     "name of the virtual port with --midi-virtual")
    m.add_argument("--midi-virtual", action="store_true", help="create a virtual MIDI input port to connect to")
    m.add_argument("--midi-api", choices=("default", "alsa", "jack", "coremidi", "winmm"), default="default",
                   help="MIDI API (default: rtmidi's choice)")
    m.add_argument("--midi-map", type=Path, default=None, help="JSON mapping file (replaces the mapping flags below)")
    m.add_argument("--cc", type=int, default=None, help="controller number for c (default 1, the mod wheel)")
    m.add_argument("--cc-channel", type=int, default=None,
                   help="MIDI channel 1..16 of every flag mapping and of Program Change (default: any)")
    m.add_argument("--cc-range", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="c at controller 0 and at full scale (default 0 1.5)")
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

    p = sub.add_parser("midi-ports", help="list MIDI input ports", description="List the MIDI input ports rtmidi sees.")
    p.add_argument("--midi-api", choices=("default", "alsa", "jack", "coremidi", "winmm"), default="default")

    sub.add_parser("devices", help="list audio devices", description="List the audio devices PortAudio sees.")

    p = sub.add_parser("plugins", help="list VST3/AU plugins with their parameters and channel layouts",
                       description="List the VST3 (and on macOS Audio Unit) plugins in the standard plugin folders "
                                   "or in FOLDER: name, maker, the channel counts each takes, latency, state size and "
                                   "every parameter with its range and value. Each plugin is loaded in a separate "
                                   "process, so a broken one is reported and the listing goes on.")
    p.add_argument("folder", nargs="?", type=Path, default=None,
                   help="folder to search, or one plugin (default: the standard plugin folders)")
    p.add_argument("--json", action="store_true", help="print JSON (one object per plugin file)")
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds a plugin may take to load (default 60)")

    p = sub.add_parser("chain", help="save a chain file with every plugin's current state")
    csub = p.add_subparsers(dest="chain_command", required=True, metavar="ACTION")
    q = csub.add_parser("save", help="write a chain with its plugins' state (renders the same tomorrow)",
                        description="Load a chain file, apply --set values, and write it as JSON with every plugin's "
                                    "whole state (base64), every built-in's parameters and every CAK stage's texture, "
                                    "so that it renders bit-identically later. See docs/plugins.md.")
    q.add_argument("chain", type=Path, help="chain file (JSON or TOML)")
    q.add_argument("output", type=Path, help="chain file to write (.json)")
    q.add_argument("--set", action="append", default=None, metavar="STAGE.PARAMETER=VALUE",
                   help="set a parameter before saving, e.g. hp.cutoff_frequency_hz=120 or 2.current_program=Custom "
                        "(repeatable)")
    q.add_argument("--force", "-f", action="store_true", help="overwrite the output file if it exists")

    sub.add_parser("train", help="train presets with AuGAN (needs torch; 'cak train --help')", add_help=False)
    return parser


def _render_job(args: argparse.Namespace):
    from .automation import load_automation
    from .batch import RenderJob
    from .presets import resolve_preset

    if args.chain is None:
        resolve_preset(args.preset)
    automation = None
    if args.automation is not None and args.midi_map is None:
        low, high = args.cc_range
        automation = load_automation(args.automation, args.interpolation, cc=args.cc, channel=args.cc_channel,
                                     low=low, high=high)
    controls, mapped = _render_controls(args)
    automation = automation or mapped
    return RenderJob(chain_file=None if args.chain is None else str(args.chain), preset=args.preset,
                     mode=args.mode, level=args.level, soft_clip=args.soft_clip, geometry=args.geometry, texture=args.texture, automation=automation,
                     controls=controls,
                     tail=args.tail,
                     sample_rate=args.samplerate, bit_depth=args.bit_depth, force=args.force)


def _render_controls(args: argparse.Namespace):
    """Stage-parameter automation for cak render (--automate envelopes, --midi-map controls read
    from --automation FILE.mid) and the map's texture automation, if it maps texture."""
    from .control_files import specs_from_envelopes, specs_from_mappings, texture_automation

    specs = specs_from_envelopes(args.automate or [])
    texture = None
    if args.midi_map is not None:
        from cak_realtime.midimap import load_midi_map

        if args.automation is None or args.automation.suffix.lower() not in (".mid", ".midi"):
            raise ValueError(f"--midi-map {args.midi_map}: give --automation FILE.mid, whose controllers drive its "
                             "targets")
        midi_map = load_midi_map(args.midi_map)
        specs += specs_from_mappings(midi_map.controls, args.midi_map, args.automation)
        knob = next((m for m in midi_map.controls if m.target == "texture" and m.cc is not None), None)
        if knob is not None:
            texture = texture_automation(args.automation, knob, args.interpolation)
        live_only = sorted({m.target for m in midi_map.controls if m.target in ("mix", "gain", "bypass")})
        if live_only:
            print(f"cak render: {args.midi_map}: {', '.join(live_only)} act live only (not part of the chain); "
                  "ignored", file=sys.stderr)
    if specs and args.chain is None:
        raise ValueError(f"{specs[0].where}: stage parameter targets need --chain")
    return tuple(specs), texture


def _cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .file_render import render_file

    job = _render_job(args)
    announce_compile()
    if args.input.is_dir():
        return _render_folder(args, job)
    if not args.input.is_file():
        raise FileNotFoundError(f"{args.input}: no such input file or folder")
    chain = job.build_chain()
    with tqdm(unit="sample", unit_scale=True, desc=args.input.name, disable=args.quiet, leave=False) as bar:
        report = render_file(args.input, args.output, chain, texture=job.knob, tail=job.tail,
                             sample_rate=job.sample_rate, bit_depth=job.bit_depth, force=job.force,
                             progress=bar.update, on_length=lambda n: setattr(bar, "total", n))
    source = f"chain {args.chain}" if args.chain else f"preset '{chain.cak_stages[0].preset.name}'"
    print(f"wrote {args.output} ({source}, {report.sample_rate} Hz, {report.channels} ch, "
          f"latency {report.latency_samples} samples removed)")
    return 0


def _render_folder(args: argparse.Namespace, job) -> int:
    from tqdm import tqdm

    from .batch import render_folder

    with tqdm(unit="file", desc="rendering", disable=args.quiet) as bar:
        report = render_folder(args.input, args.output, job, jobs=args.jobs, cluster=args.cluster,
                               on_plan=lambda n: setattr(bar, "total", n), on_result=lambda _: bar.update())
    speed = report.audio_seconds / report.seconds if report.seconds else 0.0
    print(f"rendered {len(report.rendered)} file(s) in {report.seconds:.1f} s ({speed:.0f}x real time), "
          f"skipped {len(report.skipped)} existing, {len(report.failed)} failed")
    for result in report.failed:
        print(f"cak: failed: {result.error}", file=sys.stderr)
    return 1 if report.failed else 0


def _cmd_preset_show(args: argparse.Namespace) -> int:
    from .geometry import GEOMETRIES, make_geometry
    from .presets import resolve_preset

    preset = resolve_preset(args.preset)
    print(f"name:         {preset.name}")
    if preset.description:
        print(f"description:  {preset.description}")
    print(f"method:       {preset.provenance.get('method', '')}")
    print("kernel (rows: freq -1/0/+1 bin, columns: time -1/0/+1 frame):")
    for row in preset.weight:
        print("              " + "  ".join(f"{v:+.5f}" for v in row))
    print(f"bias {preset.bias:+.5f}   scale {preset.scale:.5f}   threshold {preset.threshold:.3f}   "
          f"temperature {preset.temperature:.2f}   causal: {'yes' if preset.is_causal else 'no'}")
    print(f"normalization: alpha {preset.alpha}  low {preset.global_low:.6g}  high {preset.global_high:.6g}  "
          f"gamma {preset.gamma}")
    print(f"grid:         {preset.sample_rate} Hz, n_fft {preset.n_fft}, hop {preset.hop}, {preset.window} window")
    print("latency (--geometry):")
    for name in GEOMETRIES:
        for rate in args.sample_rate or COMMON_RATES:
            geo = make_geometry(name, preset, rate)
            print(f"  {name:<11} {rate:>6} Hz: {geo.latency_samples:>5} samples = "
                  f"{1000 * geo.latency_samples / rate:6.2f} ms (n_fft {geo.n_fft}, hop {geo.hop}, "
                  f"look-ahead {geo.lookahead * geo.hop} samples)")
    return 0


def _cmd_preset_plot(args: argparse.Namespace) -> int:
    from .atomic import atomic_path
    from .preset_plot import plot_preset
    from .presets import resolve_preset

    preset = resolve_preset(args.preset)
    output = args.output or Path(f"{preset.name}.png")
    if output.exists() and not args.force:
        raise FileExistsError(f"{output}: already exists; pass --force to overwrite it")
    with atomic_path(output) as tmp:
        plot_preset(preset, tmp)
    print(f"wrote {output}")
    return 0


def _cmd_preset_import(args: argparse.Namespace) -> int:
    if args.output.exists() and not args.force:
        raise FileExistsError(f"{args.output}: already exists; pass --force to overwrite it")
    try:
        from cak_train.import_checkpoint import import_checkpoint
    except ImportError as exc:
        raise OSError(f"'cak preset import' needs torch ({exc}); install it with: pip install 'cak[train]'") from None

    preset = import_checkpoint(args.checkpoint, args.stats, name=args.name)
    preset.save(args.output)
    print(f"wrote {args.output} (preset '{preset.name}')")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .presets import resolve_preset

    preset = resolve_preset(args.preset)
    announce_compile()
    paths = run_demo(preset, args.texture, args.output_dir, args.mode, args.level or "match",
                     True if args.soft_clip is None else args.soft_clip)
    for label, path in paths.items():
        print(f"{label:>12}: {path}")
    return 0


def _cmd_live(args: argparse.Namespace) -> int:
    from cak_realtime.run import midi_map_from_args, resolve_programs, run_live
    from cak_realtime.stream import LiveConfig

    from .chain_file import load_chain
    from .control_files import bind_midi_map
    from .presets import resolve_preset

    announce_compile()
    midi_map = midi_map_from_args(args)
    programs = resolve_programs(midi_map.programs)
    chain = load_chain(args.chain) if args.chain is not None else None
    bind_midi_map(chain, midi_map.controls, args.midi_map)
    if args.save_chain is not None and (chain is None or args.save_chain.suffix.lower() != ".json"):
        raise ValueError(f"--save-chain {args.save_chain}: needs --chain and a .json file name")
    start = None if chain is not None else resolve_preset(args.preset) if args.preset or not programs \
        else next(iter(programs.values()))
    channels = args.channels or (len(args.input_channels) if args.input_channels else 2)
    config = LiveConfig(preset=start, texture=args.texture, mode=args.mode, level=args.level,
                        soft_clip=args.soft_clip, ceiling_db=args.ceiling_db, geometry=args.geometry,
                        input_device=args.input_device, output_device=args.output_device,
                        channels=channels, samplerate=args.samplerate, blocksize=args.blocksize,
                        latency=args.latency, mix=args.mix, output_gain=10 ** (args.output_gain / 20),
                        programs=programs, chain=chain, input_channels=args.input_channels)
    midi = None
    if args.midi_port or args.midi_virtual or args.learn:
        midi = dict(mappings=midi_map.controls, program_channel=midi_map.program_channel,
                    port=args.midi_port, api=args.midi_api, virtual=args.midi_virtual, learn=args.learn)
    status = run_live(config, args.duration, show_status=not args.quiet, midi=midi)
    if args.save_chain is not None:
        from .chain_save import save_chain

        save_chain(chain, args.save_chain, force=True)
        print(f"wrote {args.save_chain}", file=sys.stderr)
    return status


def _cmd_plugins(args: argparse.Namespace) -> int:
    import json

    from .plugin_scan import find_plugins, format_report, inspect, standard_folders

    if args.folder is not None and not args.folder.exists():
        raise FileNotFoundError(f"{args.folder}: no such folder or plugin")
    folders = [args.folder] if args.folder is not None else [f for f in standard_folders() if f.is_dir()]
    paths = [path for folder in folders for path in find_plugins(folder)]
    broken = 0
    for path in paths:
        report = inspect(path, args.timeout)
        broken += report.error is not None
        if args.json:
            print(json.dumps({"path": str(path), "plugins": report.plugins, "error": report.error}), flush=True)
        else:
            print(format_report(report), flush=True)
    if not args.json:
        where = ", ".join(map(str, folders)) or "no standard plugin folder exists"
        print(f"{len(paths)} plugin file(s) in {where}; {broken} broken")
    return 0


def _cmd_chain_save(args: argparse.Namespace) -> int:
    from .chain_file import load_chain
    from .chain_save import apply_setting, save_chain

    chain = load_chain(args.chain)
    for setting in args.set or []:
        apply_setting(chain, setting)
    save_chain(chain, args.output, force=args.force)
    print(f"wrote {args.output} ({len(chain.stages)} stages)")
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    from cak_realtime.run import print_devices

    return print_devices()


def _cmd_midi_ports(args: argparse.Namespace) -> int:
    from cak_realtime.midi import list_ports

    ports = list_ports(args.midi_api)
    print("\n".join(f"{i}: {name}" for i, name in enumerate(ports)) or "no MIDI input ports found")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cak`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from cak_train.cli import main as train_main

        return train_main(argv[1:])
    args = build_parser().parse_args(argv)
    handlers = {"render": _cmd_render, "demo": _cmd_demo, "live": _cmd_live, "devices": _cmd_devices,
                "midi-ports": _cmd_midi_ports, "plugins": _cmd_plugins}
    if args.command == "preset":
        handler = {"show": _cmd_preset_show, "plot": _cmd_preset_plot,
                   "import": _cmd_preset_import}[args.preset_command]
    elif args.command == "chain":
        handler = {"save": _cmd_chain_save}[args.chain_command]
    else:
        handler = handlers[args.command]
    try:
        return handler(args)
    except (OSError, ValueError) as exc:
        print(f"cak: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("cak: interrupted; no partial output was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
