"""``cak demo``: render a generated clip dry and wet, with a spectrogram (no sound card needed)."""
from __future__ import annotations

import argparse
from pathlib import Path

from cak_dsp.jit_cache import announce_compile

from .options import add_preset, add_sound_options, add_texture


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="render a generated clip dry and wet, with a spectrogram",
                       description="Render a generated 6 s stereo groove (drums and a pad) through a preset; "
                                   "writes dry.wav, wet.wav and spectrogram.png. No sound card needed.")
    p.set_defaults(handler=run)
    p.add_argument("--output-dir", "-o", type=Path, default=Path("demo_out"),
                   help="folder for the files (default: demo_out)")
    add_preset(p)
    add_texture(p, default=1.0, help="texture amount c, 0..2 (default 1.0)")
    add_sound_options(p, live=False)


def run(args: argparse.Namespace) -> int:
    from cak_dsp.demo import run_demo
    from cak_dsp.presets import resolve_preset

    preset = resolve_preset(args.preset)
    announce_compile()
    paths = run_demo(preset, args.texture, args.output_dir, args.mode, args.level or "match",
                     True if args.soft_clip is None else args.soft_clip)
    for label, path in paths.items():
        print(f"{label:>12}: {path}")
    return 0
