"""``cak chain save``: write a chain file with every plugin's current state."""
from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_force


def add_parser(sub) -> None:
    p = sub.add_parser("chain", help="save a chain file with every plugin's current state")
    csub = p.add_subparsers(dest="chain_command", required=True, metavar="ACTION")
    q = csub.add_parser("save", help="write a chain with its plugins' state (renders the same tomorrow)",
                        description="Load a chain file, apply --set values, and write it as JSON with every plugin's "
                                    "whole state (base64), every built-in's parameters and every CAK stage's texture, "
                                    "so that it renders bit-identically later. See docs/plugins.md.")
    q.set_defaults(handler=save)
    q.add_argument("chain", type=Path, help="chain file (JSON or TOML)")
    q.add_argument("output", type=Path, help="chain file to write (.json)")
    q.add_argument("--set", action="append", default=None, metavar="STAGE.PARAMETER=VALUE",
                   help="set a parameter before saving, e.g. hp.cutoff_frequency_hz=120 or 2.current_program=Custom "
                        "(repeatable)")
    add_force(q)


def save(args: argparse.Namespace) -> int:
    from cak_dsp.chain_file import load_chain
    from cak_dsp.chain_save import apply_setting, save_chain

    chain = load_chain(args.chain)
    for setting in args.set or []:
        apply_setting(chain, setting)
    save_chain(chain, args.output, force=args.force)
    print(f"wrote {args.output} ({len(chain.stages)} stages)")
    return 0
