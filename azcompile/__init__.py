"""azcompile: AutoML-Zero programs compiled to Python and numba.

The public API: the op table, programs and their JSON form, the canonical form and hash,
and ``run`` to execute a program on data with the ``interp``, ``compiled`` or ``auto`` engine.

The names are imported when first used: ``import azcompile`` itself loads neither numba nor
numpy, so a program (``azc``) can set up its signal handling before those seconds.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "EvalType": "eval_type", "ACCURACY": "eval_type", "MULTICLASS": "eval_type",
    "RMS_ERROR": "eval_type", "RunResult": "engine", "run": "engine", "KernelCache": "jit_cache", "default_cache_dir": "jit_cache",
    "SCALAR_TASK": "liveness", "VECTOR_TASK": "liveness", "canonical": "liveness",
    "canonical_hash": "liveness", "dead_code_eliminated": "liveness",
    "OPS": "ops", "Op": "ops", "lookup": "ops",
    "Instruction": "program", "Memory": "program", "Program": "program",
    "ProgramError": "program", "load": "program", "loads": "program",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'azcompile' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value      # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
