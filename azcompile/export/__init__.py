"""Export: one evolved program as a standalone, readable Python module.

The module needs numpy only (the ``jit`` flavour adds numba) and reproduces the engine's
predictions bit for bit.  How it is made (one module of this package per step):

1. ``options``, ``provenance``: the program's ops must be rows of the op table and the
   options usable; the task (eval type, class count) and the provenance lines come from
   the arguments and the program's metadata.
2. ``dataflow``, ``names``, ``plan``: in the IR, dead code is removed (``liveness``) and
   every register gets a role.  The driver writes the features and the label and reads the
   prediction; registers that a component reads before writing them carry values across
   calls and live in the caller's ``state`` (the weights); a scalar only Setup sets becomes
   a module constant; everything else is a temporary local.  Each register gets a name by
   role.  The plan holds all of it, built once.
3. ``kernels``, ``render``: each component becomes a function of the registers it reads,
   returning the state registers it writes.  Instructions are rendered from the op
   table's ``numpy`` column (the ``jit`` flavour renders Predict and Learn from the
   ``loop`` column under numba), with the export's target rules: sums run left to right
   and scalar functions call the C library (``helpers``), as the engine does, so the last
   bits agree.
4. ``passes``: libcst simplifies the generated source: constants are propagated and
   folded, copies are propagated, assignments nobody reads are pruned, registers are
   renamed and Learn's step size is named.
5. ``assemble``: the functions go into the module template with the docstring, the helpers
   and the task's estimator (with the data's standardisation, ``preprocessing``, when the
   program records one); helpers nobody calls are pruned.

Only numbers and op-table text reach the generated code.  Program files are validated on
load and the op of every instruction must be a row of the op table, else export refuses
with a ``ProgramError``.  Provenance text is escaped into the docstring (``provenance``).
"""
from __future__ import annotations

from ..program import Program
from .assemble import assemble_module
from .options import NAME_MODES, ExportError, check_options, check_program
from .passes import prune_module
from .plan import build_plan
from .preprocessing import read_preprocessing
from .provenance import Task, docstring_text, provenance_lines, resolve_task

__all__ = ["NAME_MODES", "ExportError", "Task", "docstring_text",
           "export_program", "provenance_lines", "prune_module", "resolve_task"]


def export_program(program: Program, *, jit: bool = False, class_name: str = "EvolvedAlgorithm",
                   name_registers: str = "auto", provenance: dict | None = None,
                   eval_type=None, num_classes=None) -> str:
    """The source of a standalone module that runs ``program`` (see the module docstring).

    ``provenance`` defaults to ``program.meta``; the eval type (``rms_error``, ``accuracy``,
    ``multiclass``) and class count come from the arguments, else from the provenance.  A
    ``preprocessing`` entry in it (the API's searches record the standardisation of their
    data there) makes the estimator take raw data (``preprocessing``).
    """
    check_program(program)
    check_options(class_name, name_registers)
    meta = dict(program.meta if provenance is None else provenance)
    lines = provenance_lines(meta)
    task = resolve_task(meta, program.memory.features, eval_type, num_classes)
    pre = read_preprocessing(meta, program.memory.features)
    plan = build_plan(program, task, name_registers, jit)
    return assemble_module(program, plan, class_name=class_name, jit=jit, provenance=lines,
                           preprocessing=pre)
