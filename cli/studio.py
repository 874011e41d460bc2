"""``cak studio``: a web page in your browser to audition, play and export CAK (aiohttp server)."""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

from cak_dsp.jit_cache import announce_compile
from cak_dsp.level import CEILING_RANGE_DB

from .options import add_chain, add_geometry, add_midi_api, add_midi_map, add_preset, add_sound_options, add_texture

DEFAULT_MAX_UPLOAD = "1G"
_DESCRIPTION = (
    "Open a local web page to audition CAK: open or drop a file, it plays through the live host on this "
    "machine's audio device while you turn the texture knob, switch presets (with Program Change's "
    "crossfade) and A/B against the delay-compensated dry signal; export the file as cak render would, "
    "with the current settings or with the knob moves of the last take (saved as the automation CSV "
    "cak render --automation reads). Also: the device input (as cak live), peak meters, a scrolling "
    "dry/wet spectrogram, MIDI port choice, MIDI learn and mapping files. The server binds 127.0.0.1, "
    "the URL carries a random token, and nothing is fetched from elsewhere. Ctrl-C stops it.")


def byte_size(text: str) -> int:
    """``"1G"``, ``"500M"``, ``"2048k"`` or a plain number of bytes -> bytes (at least 1 kB)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a size such as 500M or 1G, got {text!r}")
    value = float(match.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2).lower()]
    if value < 1024:
        raise argparse.ArgumentTypeError(f"the upload limit must be at least 1k, got {text!r}")
    return int(value)


def add_parser(sub) -> None:
    p = sub.add_parser("studio", help="a web page to audition, play and export CAK (needs cak[studio])",
                       description=_DESCRIPTION)
    p.set_defaults(handler=run, own_signals=True)  # the server stops on SIGINT, SIGTERM and SIGHUP itself
    p.add_argument("file", nargs="?", type=Path, default=None, help="audio file to open (or open one in the page)")
    add_preset(p)
    add_chain(p, help="chain file (as for cak render --chain) to audition and export instead of one preset")
    add_texture(p, default=0.8, help="starting texture c, 0..2 (default 0.8)")
    add_sound_options(p, live=False)
    add_geometry(p)
    p.add_argument("--input-device", "-i", default=None, help="input device: index or name substring (cak devices)")
    p.add_argument("--output-device", "-o", default=None, help="output device: index or name substring")
    p.add_argument("--samplerate", "-r", type=int, default=None, help="device sample rate (default: the device's)")
    p.add_argument("--blocksize", "-b", type=int, default=0, help="frames per callback; 0 = the driver's (default)")
    lo, hi = CEILING_RANGE_DB
    p.add_argument("--ceiling-db", type=float, default=0.0,
                   help=f"no sample played exceeds this level, dBFS ({lo:g}..{hi:g}; default 0); exports are as "
                        "cak render writes them")
    p.add_argument("--channels", type=int, default=2, help="channels played and processed (default 2)")
    p.add_argument("--output-dir", type=Path, default=Path.cwd(),
                   help="where exports, knob takes and mapping files are written (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    p.add_argument("--no-audio", action="store_true", help="no audio device: open, look and export only")
    p.add_argument("--max-upload", type=byte_size, default=byte_size(DEFAULT_MAX_UPLOAD), metavar="SIZE",
                   help=f"largest audio upload, e.g. 500M (default {DEFAULT_MAX_UPLOAD})")
    add_midi_map(p, help="mapping file (as cak live --midi-map) to start with")
    add_midi_api(p)


def run(args: argparse.Namespace) -> int:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        raise ValueError("cak studio needs aiohttp: pip install 'cak[studio]'") from None
    from cak_realtime.studio.server import serve
    from cak_realtime.studio.session import Studio, StudioOptions

    if args.file is not None and not args.file.is_file():
        raise FileNotFoundError(f"{args.file}: no such audio file")
    if not args.output_dir.is_dir():
        raise FileNotFoundError(f"{args.output_dir}: output folder does not exist")
    if args.channels < 1:
        raise ValueError(f"--channels must be at least 1, got {args.channels}")
    announce_compile()
    options = StudioOptions(file=args.file, chain=args.chain, preset=args.preset, texture=args.texture,
                            mode=args.mode, level=args.level or "match", soft_clip=args.soft_clip,
                            geometry=args.geometry, input_device=args.input_device,
                            output_device=args.output_device, samplerate=args.samplerate,
                            blocksize=args.blocksize, channels=args.channels, ceiling_db=args.ceiling_db,
                            output_dir=args.output_dir.resolve(),
                            midi_map=args.midi_map, midi_api=args.midi_api, audio=not args.no_audio)
    with tempfile.TemporaryDirectory(prefix="cak-studio-") as workdir:
        studio = Studio(options, Path(workdir))
        studio.start()
        if studio.audio_error:
            print(f"cak studio: {studio.audio_error}", file=sys.stderr)

        def opened(url: str) -> None:
            print(f"cak studio: {url}", flush=True)
            if not args.no_browser:
                import webbrowser

                webbrowser.open(url)

        serve(studio, args.host, args.port, args.max_upload, opened)
    print("cak studio: stopped", file=sys.stderr)
    return 0
