"""Showing a program: the paper's notation, its canonical form, or Python source.

Views:

* ``raw``: the program as evolved, in the reference's ``ToReadable`` layout;
* ``canonical``: dead code removed and registers renamed in order of first use (the form
  that is hashed and compiled), under a comment with its hash;
* ``python``: the standalone module ``azc export`` writes (readable, numpy only);
* ``kernel``: the straight-line numba source the compiled engine runs for this program.

``render`` returns plain text; ``show`` prints it, with syntax highlighting from ``rich``
when the output is a terminal.
"""
from __future__ import annotations

import sys

from . import codegen, liveness
from .eval_type import EvalType
from .export import export_program
from .program import Program, ProgramError

VIEWS = ("raw", "canonical", "python", "kernel")


def render(program: Program, view: str = "raw", *, eval_type=None, num_classes=None) -> str:
    """The text of one view of ``program``; the eval type decides the reserved registers
    (the class count matters to the ``python`` view only)."""
    if view not in VIEWS:
        raise ProgramError(f"unknown view {view!r:.40}; choose one of {', '.join(VIEWS)}")
    if view == "raw":
        return program.listing()
    if view == "python":
        return export_program(program, eval_type=eval_type, num_classes=num_classes)
    mode = EvalType.of_meta(program.meta, eval_type).task_mode
    canon, chash = liveness.canonical(program, mode)
    if view == "canonical":
        kept = sum(map(len, canon.components))
        total = sum(map(len, program.components))
        return (f"# canonical form {chash:016x}: {kept} of {total} instructions live\n"
                + canon.listing())
    return codegen.candidate_source(canon, chash)


def show(program: Program, view: str = "raw", *, color: bool | None = None, file=None,
         eval_type=None, num_classes=None) -> None:
    """Print a view; ``color=None`` highlights only when ``file`` is a terminal."""
    file = sys.stdout if file is None else file
    text = render(program, view, eval_type=eval_type, num_classes=num_classes)
    if color is None:
        color = hasattr(file, "isatty") and file.isatty()
    if not color:
        file.write(text)
        return
    from rich.console import Console
    from rich.syntax import Syntax

    Console(file=file, force_terminal=True).print(
        # The paper notation (``s3 = s0 - s1`` under ``def Learn():``) highlights as Python.
        Syntax(text.rstrip("\n"), "python", theme="ansi_dark", word_wrap=False))
