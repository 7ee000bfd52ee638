"""The ``azc`` program: the console script and ``python -m azcompile.search.cli``.

Ctrl-C is made quiet first (see ``startup``), then the command line, with numba and the
rest, is imported.
"""
from __future__ import annotations

from .startup import quiet_interrupts_while_starting


def main() -> None:
    quiet_interrupts_while_starting()
    from .commands import main as run_commands   # after the handler: this import takes seconds

    run_commands()
