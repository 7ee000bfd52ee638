"""The interpreter tier, as called from Python or passed to other numba code.

The interpreter is generated per op set and feature size (``codegen.op_set_interpreter_source``:
one branch per op the config allows, the feature size a constant), written to the kernel
cache and compiled once per machine (``jit_cache.KernelCache.interpreter``).  A search passes
its kernel to the search loop as a pointer (``kernel_pointer``); ``engine.run`` calls it from
Python.  ``_interp_kernel.py``, the same generator's text for every op with the feature size a
parameter, is the one to read, and what ``driver.py`` imported on its own runs.
"""
from __future__ import annotations

from . import jit_cache
from .kernel_pointer import EVALUATE, EVALUATE_TASKS, KernelPointer
from .ops import OPS

ALL_OPS = frozenset(op.id for op in OPS)

_pointers: dict = {}


def op_ids_of(names, *programs) -> frozenset:
    """The op ids of op names (a config's op lists) and of the ops the ``programs`` hold
    (a search's initial program, a candidate), NO_OP always included."""
    by_name = {op.name: op.id for op in OPS}
    ids = {by_name[name] for name in names}
    ids.update(ins.op.id for program in programs for comp in program.components for ins in comp)
    return frozenset(ids) | {0}


def _module(op_ids, features: int, cache: jit_cache.KernelCache | None):
    """The interpreter module for ``op_ids`` (all ops if None) and ``features``."""
    ids = ALL_OPS if op_ids is None else frozenset(op_ids) | {0}
    return (cache or jit_cache.default_cache()).interpreter(ids, features)


def evaluate_function(op_ids, features: int, cache: jit_cache.KernelCache | None = None):
    """The compiled ``evaluate(program, task, run, registers, record)`` of the interpreter for
    ``op_ids`` (all ops if None) and ``features``; a program must hold only those ops."""
    return _module(op_ids, features, cache).evaluate


def evaluate_pointer(op_ids, features: int,
                     cache: jit_cache.KernelCache | None = None) -> KernelPointer:
    """``evaluate_function`` as a pointer (``kernel_pointer.EVALUATE``): one task a call."""
    return _pointer(evaluate_function(op_ids, features, cache), EVALUATE)


def evaluate_tasks_pointer(op_ids, features: int,
                           cache: jit_cache.KernelCache | None = None) -> KernelPointer:
    """The interpreter's ``evaluate_tasks`` for ``op_ids`` (all ops if None) and
    ``features``, as the pointer the search loop calls (``kernel_pointer.EVALUATE_TASKS``)."""
    return _pointer(_module(op_ids, features, cache).evaluate_tasks, EVALUATE_TASKS)


def _pointer(function, signature) -> KernelPointer:
    pointer = _pointers.get(id(function))
    if pointer is None or pointer.dispatcher is not function:
        pointer = _pointers[id(function)] = KernelPointer(function, signature)
    return pointer
