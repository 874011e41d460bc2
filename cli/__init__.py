"""cak_cli (the folder cli/): the ``cak`` command line. It sits above the core (``cak_dsp``), the
live host (``cak_realtime``) and the trainer (``cak_train``), none of which imports it.

One module per command (:mod:`.render`, :mod:`.preset`, :mod:`.demo`, :mod:`.live`, :mod:`.studio`,
:mod:`.devices` with ``midi-ports``, :mod:`.plugins`, :mod:`.chain`, :mod:`.train`); the options
several commands share are defined once, in :mod:`.options`. Each command module's
``add_parser(sub)`` adds its parser and sets its handler. Only ``cak preset import`` and
``cak train`` load torch, and only when they run; the live host is imported only by the
commands that use it. Every command but ``cak live`` stops on SIGINT, SIGTERM and SIGHUP
alike (:mod:`.interrupts`); errors are one line, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn

from .interrupts import Interrupted, stop_on_signals

__all__ = ["EXIT_ERROR", "build_parser", "main"]

EXIT_ERROR = 2  # a refused input or option


def _commands() -> tuple:
    from . import chain, demo, devices, live, plugins, preset, render, studio, train

    return render, preset, demo, live, studio, devices, plugins, chain, train


def build_parser() -> argparse.ArgumentParser:
    from .options import OneLineParser

    parser = OneLineParser(
        prog="cak",
        description="CAK: a learned 3x3 spectral audio effect (arXiv 2508.02643) as a real-time instrument. "
                    "The texture knob c runs from 0 (no effect, exact identity) to 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in _commands():
        command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cak`` console script. The stop signals are handled from the start, so
    that a Ctrl-C while cak still loads exits quietly too. Run as the program (the ``cak``
    script or ``python -m cak_cli``), a command that asks for it (``exit_at_once``, ``cak
    render``) ends the process as soon as it is done (:func:`_exit_now`). ``cak render`` does no
    linear algebra: it starts numpy without OpenBLAS's thread pool (unless ``OPENBLAS_NUM_THREADS``
    says otherwise), so that the process runs one thread and forks its folder workers itself
    (:mod:`cak_dsp.batch`)."""
    parsed: list[argparse.Namespace] = []
    if argv is None and sys.argv[1:2] == ["render"] and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS thread pool: one thread forks its workers
    code = _run(argv, parsed)
    if argv is None and parsed and getattr(parsed[0], "exit_at_once", False) and _is_the_program():
        _exit_now(code)
    return code


def _run(argv: list[str] | None, parsed: list[argparse.Namespace]) -> int:
    """Parse ``argv`` (appending the options to ``parsed``) and run the command; its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        from . import train

        return train.run(argv[1:])
    try:
        with stop_on_signals():
            args = build_parser().parse_args(argv)
            parsed.append(args)
            if not getattr(args, "own_signals", False):
                return args.handler(args)
        return args.handler(args)
    except (OSError, ValueError) as exc:
        print(f"cak: error: {_first_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt as exc:
        name = f" ({exc.args[0]})" if isinstance(exc, Interrupted) else ""
        print(f"cak: interrupted{name}; no partial output was left behind", file=sys.stderr)
        return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT
    except Exception as exc:  # noqa: BLE001 - a user sees one line, never a traceback
        print(f"cak: internal error: {type(exc).__name__}: {_first_line(exc)} (please report it)", file=sys.stderr)
        return 1


def _is_the_program() -> bool:
    """Whether this process is the ``cak`` script or ``python -m cak_cli`` (not a host that
    called :func:`main`)."""
    program = sys.modules.get("__main__")
    spec = getattr(program, "__spec__", None)
    return (spec is not None and spec.name == f"{__name__}.__main__") or \
        os.path.splitext(os.path.basename(getattr(program, "__file__", None) or ""))[0] == "cak"


def _exit_now(code: int) -> NoReturn:
    """End the process with ``code`` once its work is done, without tearing the interpreter down.

    Freeing every module and object of Numba and its compiled code at exit takes longer than a
    short render itself; the operating system frees it all at once. The exit functions still
    run (``atexit``: multiprocessing's helpers among them) and the standard streams are flushed;
    every output was complete and renamed before (:mod:`cak_dsp.atomic`).
    """
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _first_line(exc: BaseException) -> str:
    from cak_dsp.errors import first_line

    return first_line(exc)
