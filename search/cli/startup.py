"""The first second of ``azc``: a Ctrl-C while numba and the rest are still importing.

Python turns SIGINT into KeyboardInterrupt, which would print a traceback from the middle of
an import.  Until the command line is ready, a Ctrl-C exits at once instead: nothing has been
written yet, so there is nothing to save.  Only the program entry points install this
(importing ``search`` as a library leaves the interpreter's handlers alone).
"""
from __future__ import annotations

import os
import signal
import sys
import time

EXIT_INTERRUPTED = 130


def _exit_quietly(signum, frame):
    sys.stderr.write("\ninterrupted while starting; nothing was written\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


_running_as_program = False
_started: float | None = None


def quiet_interrupts_while_starting() -> None:
    global _running_as_program, _started
    _running_as_program = True
    _started = time.monotonic()
    signal.signal(signal.SIGINT, _exit_quietly)


def command_started() -> float | None:
    """``time.monotonic()`` when the program started (None outside the program): a search's
    clock (``--max-time``) counts from there, imports and compiling included."""
    return _started


def ready() -> None:
    """From here on a Ctrl-C is a KeyboardInterrupt again (commands handle it)."""
    if signal.getsignal(signal.SIGINT) is _exit_quietly:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def exiting(code: int) -> None:
    """The program is on its way out with ``code`` (a search stopped by a signal): a signal
    arriving now (a late second Ctrl-C) ends it with that code at once, where Python's own
    handler would kill it by SIGINT in the middle of exiting.  Only in the program: a library
    caller's handlers are left alone."""
    if _running_as_program:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: os._exit(code))
