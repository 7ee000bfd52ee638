"""azcompile: AutoML-Zero programs compiled to Python and numba.

The public API: the op table, programs and their JSON form, the canonical form and hash,
and ``run`` to execute a program on data with the ``interp``, ``compiled`` or ``auto`` engine.
"""
from .jit_cache import guard_numba_cache

guard_numba_cache()  # before any numba function loads its cache

# The imports below come after the guard on purpose.
from .engine import ACCURACY, MULTICLASS, RMS_ERROR, RunResult, run  # noqa: E402
from .jit_cache import KernelCache, default_cache_dir  # noqa: E402
from .liveness import (SCALAR_TASK, VECTOR_TASK, canonical, canonical_hash,  # noqa: E402
                       dead_code_eliminated)
from .ops import OPS, Op, lookup  # noqa: E402
from .program import Instruction, Memory, Program, ProgramError, load, loads  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ACCURACY", "MULTICLASS", "RMS_ERROR", "RunResult", "run", "KernelCache", "default_cache_dir",
    "SCALAR_TASK", "VECTOR_TASK", "canonical", "canonical_hash", "dead_code_eliminated",
    "OPS", "Op", "lookup", "Instruction", "Memory", "Program", "ProgramError", "load", "loads",
]
