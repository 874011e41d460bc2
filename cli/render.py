"""``cak render``: process audio files or folders offline, through CAK or a whole chain."""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from cak_dsp.jit_cache import announce_compile
from cak_dsp.limits import MAX_TAIL_SECONDS, SAMPLE_RATE_RANGE, check_jobs, check_sample_rate, check_tail

from .options import (add_chain, add_force, add_geometry, add_midi_map, add_preset, add_sound_options, add_texture,
                      add_texture_cc, checked)

_DESCRIPTION = textwrap.fill(
    "Process an audio file, or every audio file in a folder tree, through CAK (--preset) or a chain of pedalboard "
    "plugins and CAK stages (--chain). Reads WAV, FLAC, AIFF, OGG and MP3; writes WAV, FLAC, AIFF, OGG or MP3 (from "
    "the output's extension). The output lines up with the input sample for sample and has the same length (the "
    "chain's latency is removed); --tail keeps reverb and delay tails. Files are streamed in blocks, written under a "
    "temporary name and renamed when complete; the input is never touched.", 78)

_EPILOG = ("chain file (JSON; TOML with [[stages]] works too):\n"
           '  {"format": "cak-chain", "version": 1, "stages": [\n'
           '    {"type": "HighpassFilter", "cutoff_frequency_hz": 80},\n'
           '    {"type": "cak", "preset": "drums", "texture": 0.8},\n'
           '    {"type": "Compressor", "threshold_db": -18, "ratio": 3},\n'
           '    {"type": "plugin", "path": "Shimmer.vst3", "parameters": {"mix": 0.3}}]}\n'
           "Any pedalboard effect by class name with its parameters; 'plugin' loads a VST3/AU.\n\n"
           "folders: cak render IN_DIR OUT_DIR renders every audio file under IN_DIR to the same relative path under "
           "OUT_DIR, skipping outputs that exist (unless --force); a bad file is reported by name and the rest go on; "
           "the exit status is 1 if any file failed. A first Ctrl-C finishes the files in progress and starts no "
           "new one; a second (or SIGTERM, SIGHUP) stops at once. Nothing half-written is ever left behind.\n\n"
           "exit status: 0 only when every output is complete; 2 for a refused input or option (one line names "
           "it), 1 if files failed, 128 + the signal number when stopped (130 for Ctrl-C).")


def add_parser(sub) -> None:
    p = sub.add_parser("render", help="process audio files offline, through CAK or a whole chain",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=_DESCRIPTION, epilog=_EPILOG)
    p.set_defaults(handler=run, exit_at_once=True)
    p.add_argument("input", type=Path, help="input audio file or folder")
    p.add_argument("output", type=Path, help="output audio file (format from its extension) or folder")
    what = p.add_mutually_exclusive_group()
    add_preset(what)
    add_chain(what, help="chain file (JSON or TOML) of plugins and CAK stages")
    knob = p.add_mutually_exclusive_group()
    add_texture(knob, default=None,
                help="texture amount c, 0..2, for every CAK stage (default 0.8, or the chain file's)")
    knob.add_argument("--automation", "-a", type=Path, default=None,
                      help="texture envelope: a CSV of time,value lines (seconds, c; linear) or a MIDI file "
                           "whose --cc moves c (held between messages)")
    p.add_argument("--interpolation", choices=("linear", "hold"), default=None,
                   help="between automation points (default: linear for CSV, hold for MIDI)")
    add_texture_cc(p, purpose=" in --automation FILE.mid")
    add_sound_options(p, live=False)
    add_geometry(p, prefix="with --preset: ")
    p.add_argument("--tail", type=checked(check_tail), default=0.0, metavar="SECONDS",
                   help=f"keep this much of the chain's tail after the input ends, 0..{MAX_TAIL_SECONDS:g} "
                        "(default 0: same length)")
    p.add_argument("--samplerate", "-r", type=checked(check_sample_rate, integer=True), default=None,
                   help="output sample rate, {}..{} Hz: the input is resampled and the chain runs at this "
                        "rate (default: the input's)".format(*SAMPLE_RATE_RANGE))
    p.add_argument("--bit-depth", type=int, choices=(16, 24, 32), default=None,
                   help="output sample format: 16 or 24-bit integer, 32 = float (default: the input's)")
    p.add_argument("--jobs", "-j", type=checked(check_jobs, integer=True), default=1,
                   help="folders: files rendered in parallel (default 1)")
    p.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="folders: run the files on this Dask scheduler (tcp://host:8786) instead of locally")
    add_force(p, help="overwrite outputs that exist")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_midi_map(p, help="with --chain and --automation FILE.mid: the cak live mapping file; each of its controls "
                         "(texture, or a stage parameter such as hp.cutoff_frequency_hz) reads its controller from "
                         "the MIDI file, as live (docs/plugins.md)")
    p.add_argument("--automate", action="append", default=None, metavar="STAGE.PARAMETER=FILE.csv",
                   help="with --chain: a stage parameter follows a CSV envelope of time,value lines (seconds, the "
                        "parameter's units; linear), e.g. hp.cutoff_frequency_hz=sweep.csv (repeatable)")


def render_job(args: argparse.Namespace):
    """The :class:`cak_dsp.batch.RenderJob` the options describe (one file or a folder's worth)."""
    from cak_dsp.automation import load_automation
    from cak_dsp.batch import RenderJob
    from cak_dsp.presets import resolve_preset

    if args.chain is None:
        resolve_preset(args.preset)
    automation = None
    if args.automation is not None and args.midi_map is None:
        controller = {"channel": args.cc_channel}
        if args.cc is not None:
            controller["cc"] = args.cc
        if args.cc_range is not None:
            controller["low"], controller["high"] = args.cc_range
        automation = load_automation(args.automation, args.interpolation, **controller)
    controls, mapped = _render_controls(args)
    automation = automation or mapped
    return RenderJob(chain_file=None if args.chain is None else str(args.chain), preset=args.preset,
                     mode=args.mode, level=args.level, soft_clip=args.soft_clip, geometry=args.geometry,
                     texture=args.texture, automation=automation, controls=controls, tail=args.tail,
                     sample_rate=args.samplerate, bit_depth=args.bit_depth, force=args.force)


def _render_controls(args: argparse.Namespace):
    """Stage-parameter automation for cak render (--automate envelopes, --midi-map controls read
    from --automation FILE.mid) and the map's texture automation, if it maps texture."""
    from cak_dsp.control_files import specs_from_envelopes, specs_from_mappings, texture_automation

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


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from cak_dsp.file_render import render_file
    from cak_dsp.jit_cache import load_cached_code_only

    job = render_job(args)
    announce_compile()
    load_cached_code_only()  # this process runs only cak's jitted code: no Numba registries to load it
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
    for line in chain.repairs():
        print(f"cak render: {args.input}: {line}", file=sys.stderr)
    return 0


def _render_folder(args: argparse.Namespace, job) -> int:
    import threading

    from tqdm import tqdm

    from cak_dsp.batch import render_folder

    from .interrupts import stop_on_signals

    stop = threading.Event()
    tqdm.monitor_interval = 0  # no monitor thread: a process of one thread forks its workers itself (cak_dsp.batch)

    def wind_down() -> None:
        stop.set()
        print("\ncak: Ctrl-C: finishing the file(s) in progress, starting no new one; Ctrl-C again stops now",
              file=sys.stderr)

    with stop_on_signals(graceful=wind_down), tqdm(unit="file", desc="rendering", disable=args.quiet) as bar:
        report = render_folder(args.input, args.output, job, jobs=args.jobs, cluster=args.cluster,
                               on_plan=lambda n: setattr(bar, "total", n), on_result=lambda _: bar.update(),
                               should_stop=stop.is_set)
    speed = report.audio_seconds / report.seconds if report.seconds else 0.0
    print(f"rendered {len(report.rendered)} file(s) in {report.seconds:.1f} s ({speed:.0f}x real time), "
          f"skipped {len(report.skipped)} existing, {len(report.failed)} failed")
    for result in report.failed:
        print(f"cak: failed: {result.error}", file=sys.stderr)
    if stop.is_set():
        print("cak: interrupted; the files not rendered can be rendered by running the command again",
              file=sys.stderr)
        return 130
    return 1 if report.failed else 0
