"""``cak preset show | plot | import``: inspect a preset, draw it, or make one from the published checkpoint."""
from __future__ import annotations

import argparse
from pathlib import Path

from cak_dsp.limits import SAMPLE_RATE_RANGE, check_sample_rate

from .options import add_force, add_preset, checked

COMMON_RATES = (44100, 48000, 88200, 96000)


def add_parser(sub) -> None:
    p = sub.add_parser("preset", help="inspect or import presets")
    psub = p.add_subparsers(dest="preset_command", required=True, metavar="ACTION")
    q = psub.add_parser("show", help="print a preset and its latency",
                        description="Print a preset's fields and the engine latency it implies.")
    q.set_defaults(handler=show)
    add_preset(q, positional=True)
    q.add_argument("--sample-rate", "-r", type=checked(check_sample_rate, integer=True), action="append",
                   help="sample rate(s) to report latency at, {}..{} Hz (default: {})".format(
                       *SAMPLE_RATE_RANGE, ", ".join(map(str, COMMON_RATES))))
    q = psub.add_parser("plot", help="draw a preset's kernel and its effect (PNG)",
                        description="Write a PNG with the 3x3 kernel as a frequency x time heat map, the "
                                    "residual gain against texture, and the average per-band change on the "
                                    "demo groove at several textures, in both modes.")
    q.set_defaults(handler=plot)
    add_preset(q, positional=True)
    q.add_argument("--output", "-o", type=Path, default=None, help="PNG to write (default: PRESET_NAME.png)")
    add_force(q)
    q = psub.add_parser("import", help="make a preset from the published PyTorch checkpoint (needs torch)",
                        description="Convert the original CAK project's checkpoint (generator state dict) and "
                                    "its normalization stats JSON into a cak preset.")
    q.set_defaults(handler=import_)
    q.add_argument("checkpoint", type=Path, help="checkpoint .pt file (e.g. final_wgan_grain.pt)")
    q.add_argument("--stats", type=Path, required=True, help="global_normalization_stats.json used in training")
    q.add_argument("--output", "-o", type=Path, required=True, help="preset JSON to write")
    q.add_argument("--name", default=None, help="preset name (default: the checkpoint's file name)")
    add_force(q)


def show(args: argparse.Namespace) -> int:
    from cak_dsp.geometry import GEOMETRIES, make_geometry
    from cak_dsp.presets import resolve_preset

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


def plot(args: argparse.Namespace) -> int:
    from cak_dsp.atomic import atomic_path
    from cak_dsp.preset_plot import plot_preset
    from cak_dsp.presets import resolve_preset

    preset = resolve_preset(args.preset)
    output = args.output or Path(f"{preset.name}.png")
    if output.exists() and not args.force:
        raise FileExistsError(f"{output}: already exists; pass --force to overwrite it")
    try:
        with atomic_path(output) as tmp:
            plot_preset(preset, tmp)
    except OSError as exc:
        raise OSError(f"{output}: cannot write ({exc.strerror or exc}); nothing was replaced") from None
    print(f"wrote {output}")
    return 0


def import_(args: argparse.Namespace) -> int:
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
