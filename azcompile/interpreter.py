"""The interpreter tier, as called from Python or from other numba code.

The kernel itself is generated (``_interp_kernel.py``); this module adds the entry point
that fixes the feature size as a compile-time constant (``numba.literally``).
"""
from __future__ import annotations

from numba import literally, njit

from . import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ._interp_kernel import evaluate_task


@njit(cache=True, error_model="numpy")
def evaluate_task_literal(program, task, run, registers, record, F):
    """``evaluate_task`` specialised on the literal feature size (for calls from Python)."""
    return evaluate_task(program, task, run, registers, record, literally(F))
