"""``cak train``: handed whole to the trainer's own command line (:mod:`cak_train.cli`, needs torch)."""
from __future__ import annotations


def add_parser(sub) -> None:
    """Lists ``train`` in ``cak --help``; :func:`cak_cli.main` hands its arguments to :func:`run`
    before parsing, so ``cak train --help`` is the trainer's own."""
    sub.add_parser("train", help="train presets with AuGAN (needs torch; 'cak train --help')", add_help=False)


def run(argv: list[str]) -> int:
    from cak_train.cli import main

    return main(argv)
