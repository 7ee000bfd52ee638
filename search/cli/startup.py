"""The first second of ``azc``: a Ctrl-C while numba and the rest are still importing.

Python turns SIGINT into KeyboardInterrupt, which would print a traceback from the middle of
an import.  Until the command line is ready, a Ctrl-C exits at once instead: nothing has been
written yet, so there is nothing to save.  Only the program entry points install this
(importing ``search`` as a library leaves the interpreter's handlers alone).
"""
from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
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


def leave(code) -> None:
    """Exit with ``code`` (as ``sys.exit`` takes it) after what an exit must do: the other
    threads joined, the atexit callbacks run (a precompile helper stopped, Ray shut down,
    temporary folders removed) and the output flushed; but not the interpreter's teardown."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:                               # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe: nothing more can be said
            pass
    os._exit(status)
