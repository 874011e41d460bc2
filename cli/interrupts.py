"""Stop signals: SIGTERM and SIGHUP stop a cak command as Ctrl-C (SIGINT) does.

Inside :func:`stop_on_signals`, the first stop signal raises :class:`Interrupted` wherever the
command is, so every output being written under a temporary name (:mod:`cak_dsp.atomic`) is
removed on the way out and an existing output keeps its old content. Signals that come while
the command is already stopping are ignored, so that they cannot cut that clean-up short. A
signal that lands where Python would swallow the exception (an import's clean-up callback, a
finalizer) is sent again a moment later.
A folder render asks for a gentler first Ctrl-C (``graceful``): it starts no new file, lets
the ones in progress finish, and only the next signal stops at once.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RESEND_SECONDS = 0.05


def _swallowing(frame) -> bool:
    """Whether an exception raised in ``frame`` would be printed as "Exception ignored" and lost:
    the import system's clean-up callbacks and finalizers run where Python swallows it."""
    return frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                  or frame.f_code.co_name == "__del__")


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
    back on exit, unless a stop was asked for here or in a nested block: then the stop signals
    stay ignored, for the program is ending (a second Ctrl-C would otherwise kill it on the
    way out, as an uncaught KeyboardInterrupt).
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread can handle signals (main() called from a thread, as in tests)
        return
    if _state["depth"] == 0:
        _state["stopping"] = False
    asked = raised = False

    def handle(signum: int, frame) -> None:
        nonlocal asked, raised
        if raised:
            return
        if _swallowing(frame):
            threading.Timer(RESEND_SECONDS, os.kill, (os.getpid(), signum)).start()
            return
        _state["stopping"] = True
        if signum == signal.SIGINT and graceful is not None and not asked:
            asked = True
            graceful()
            return
        raised = True
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    _state["depth"] += 1
    try:
        yield
    except KeyboardInterrupt:
        _state["stopping"] = True
        raise
    finally:
        _state["depth"] -= 1
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_IGN if _state["stopping"] else handler)


_state = {"depth": 0, "stopping": False}  # nesting of stop_on_signals; whether a stop was asked for
