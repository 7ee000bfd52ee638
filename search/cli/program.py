"""The ``azc`` program: the console script and ``python -m azcompile.search.cli``.

Ctrl-C is made quiet first (see ``startup``), then the command line, with numba and the
rest, is imported.  At the end the program leaves without the interpreter's teardown
(``startup.leave``): freeing numba's and LLVM's compiled code took 1.5-4.5 s of every
command's exit on this 2-core machine, after everything had been written.
"""
from __future__ import annotations

from .startup import leave, quiet_interrupts_while_starting


def main() -> None:
    quiet_interrupts_while_starting()
    from .commands import main as run_commands   # after the handler: this import takes seconds

    try:
        run_commands()
    except SystemExit as done:          # click ends every command this way
        leave(done.code)
    leave(0)
