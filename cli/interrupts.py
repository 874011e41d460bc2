"""Stop signals: SIGTERM and SIGHUP stop a cak command as Ctrl-C (SIGINT) does.

Inside :func:`stop_on_signals`, the first stop signal raises :class:`Interrupted` wherever the
command is, so every output being written under a temporary name (:mod:`cak_dsp.atomic`) is
removed on the way out and an existing output keeps its old content. Signals that come while
the command is already stopping are ignored, so that they cannot cut that clean-up short.
A folder render asks for a gentler first Ctrl-C (``graceful``): it starts no new file, lets
the ones in progress finish, and only the next signal stops at once.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived; ``exit_code`` is the shell's 128 + the signal number (130 for Ctrl-C)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


@contextlib.contextmanager
def stop_on_signals(graceful: Callable[[], None] | None = None) -> Iterator[None]:
    """Raise :class:`Interrupted` at the first SIGINT, SIGTERM or SIGHUP, ignore later ones.

    With ``graceful``, the first SIGINT only calls it (the caller then winds down by itself);
    a second SIGINT, or a SIGTERM or SIGHUP at any time, raises. The previous handlers come
    back on exit.
    """
    state = {"asked": False, "raised": False}

    def handle(signum: int, frame) -> None:
        if state["raised"]:
            return
        if signum == signal.SIGINT and graceful is not None and not state["asked"]:
            state["asked"] = True
            graceful()
            return
        state["raised"] = True
        raise Interrupted(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals (main() called from a thread, as in tests)
        return
    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
