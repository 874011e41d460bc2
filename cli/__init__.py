"""cak_cli (the folder cli/): the ``cak`` command line. It sits above the core (``cak_dsp``), the
live host (``cak_realtime``) and the trainer (``cak_train``), none of which imports it.

One module per command (:mod:`.render`, :mod:`.preset`, :mod:`.demo`, :mod:`.live`, :mod:`.studio`,
:mod:`.devices` with ``midi-ports``, :mod:`.plugins`, :mod:`.chain`, :mod:`.train`); the options
several commands share are defined once, in :mod:`.options`. Each command module's
``add_parser(sub)`` adds its parser and sets its handler. Only ``cak preset import`` and
``cak train`` load torch, and only when they run; the live host is imported only by the
commands that use it.
"""
from __future__ import annotations

import argparse
import sys

from . import chain, demo, devices, live, plugins, preset, render, studio, train
from .options import EXIT_ERROR

__all__ = ["EXIT_ERROR", "build_parser", "main"]

COMMANDS = (render, preset, demo, live, studio, devices, plugins, chain, train)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cak",
        description="CAK: a learned 3x3 spectral audio effect (arXiv 2508.02643) as a real-time instrument. "
                    "The texture knob c runs from 0 (no effect, exact identity) to 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cak`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return train.run(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (OSError, ValueError) as exc:
        print(f"cak: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("cak: interrupted; no partial output was left behind", file=sys.stderr)
        return 130
