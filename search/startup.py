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

EXIT_INTERRUPTED = 130


def _exit_quietly(signum, frame):
    sys.stderr.write("\ninterrupted while starting; nothing was written\n")
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def quiet_interrupts_while_starting() -> None:
    signal.signal(signal.SIGINT, _exit_quietly)


def ready() -> None:
    """From here on a Ctrl-C is a KeyboardInterrupt again (commands handle it)."""
    if signal.getsignal(signal.SIGINT) is _exit_quietly:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main() -> None:
    """The ``azc`` console script."""
    quiet_interrupts_while_starting()
    from .cli import main as cli_main

    cli_main()
