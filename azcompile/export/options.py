"""The checks an export makes before it writes anything: the program's ops are rows of the
op table (only op-table text reaches the generated code) and the options are usable."""
from __future__ import annotations

import builtins
import keyword

from .. import ops as _ops
from ..program import Program, ProgramError
from .registers import COMPONENTS

NAME_MODES = ("auto", "raw")
CLASS_NAME_HINT = "choose another, e.g. LinearLearner"


class ExportError(ValueError):
    """An export option that cannot be used; the message names the option and the fix."""


def check_program(program: Program) -> None:
    """A valid Program whose every op is the op table's own row (not a forged copy)."""
    if not isinstance(program, Program):
        raise ProgramError(f"export needs a Program, got {type(program).__name__}")
    for name in COMPONENTS:
        for pos, ins in enumerate(program.component(name)):
            op = ins.op
            if not (isinstance(op, _ops.Op) and 0 <= op.id < _ops.NUM_OPS and _ops.OPS[op.id] is op):
                raise ProgramError(f"{name}[{pos}]: its op is not a row of the op table; "
                                   "build instructions with Instruction.make or load them from JSON")
    program.validate()


def check_options(class_name: str, name_registers: str) -> None:
    """The class name can be defined in the module; the naming mode is known.  (Clashes
    with the names the module itself binds are checked on the assembled module.)"""
    why = None
    if not (isinstance(class_name, str) and class_name.isascii() and class_name.isidentifier()):
        why = "is not a Python identifier (ASCII letters, digits and _, not starting with a digit)"
    elif keyword.iskeyword(class_name) or keyword.issoftkeyword(class_name):
        why = "is a Python keyword"
    elif class_name.startswith("_"):
        why = "starts with _ (the module's private names do)"
    elif hasattr(builtins, class_name):
        why = "is a Python builtin the module may use"
    if why:
        raise ExportError(f"class name {str(class_name)[:40]!r} {why}; {CLASS_NAME_HINT}")
    if name_registers not in NAME_MODES:
        raise ExportError(f"name_registers must be one of {NAME_MODES}, got {name_registers!r:.40}")
