"""Run a program on data: the ``interp``, ``compiled`` and ``auto`` engines.

``interp`` runs the program's own instruction arrays in the generated interpreter; it costs
nothing to start.  ``compiled`` runs the canonical program's generated straight-line
components (compiled once, then loaded from the cache) in the compiled driver.  Both give the
same bits.  ``auto`` uses the compiled kernel when it is already cached or when the time the
work would save outweighs a compile, as this process has measured compiles to cost.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import typeof

from . import interpreter, jit_cache
from .eval_type import EvalType
from .kernel_args import (STEPS_DONE, ProgramArrays, RunSettings, TaskData, new_record,
                          new_registers)
from .kernel_pointer import KernelPointer
from .liveness import canonical, live_instructions, stream_ids

ENGINES = ("interp", "compiled", "auto")
# What the compiled tier saves per executed instruction over the interpreter (azc bench's
# core figures: 1-4 ns on 4-16 features); ``auto`` compiles when the work saves more time
# than the cache measures a compile to cost.
SAVED_SECONDS_PER_INSTRUCTION = 2e-9
# The work above which ``auto`` compiles, before any compile has been measured.
AUTO_COMPILE_WORK = int(jit_cache.DEMO_CANDIDATE_COMPILE_SECONDS / SAVED_SECONDS_PER_INSTRUCTION)


@dataclass
class RunResult:
    fitness: float
    train_predictions: np.ndarray   # (steps, outputs): raw predictions before normalisation
    valid_predictions: np.ndarray   # (n_valid, outputs) from the last validation pass
    train_steps: int
    engine: str


_entries: dict = {}


def call_compiled(dispatcher, args):
    """Call a numba function from Python without paying numba's dispatch on every call:
    after the first call, the compiled specialisation's entry point is called directly."""
    # numba's typeof costs ~3 us per argument, the whole call ~100 us: key the entry on what
    # decides an argument's numba type (dtype, rank, layout, mutability) instead.
    key = (id(dispatcher), tuple(map(_type_key, args)))
    entry = _entries.get(key)
    if entry is not None:
        return entry(*args)
    result = dispatcher(*args)
    arg_types = tuple(typeof(a) for a in args)
    cres = dispatcher.overloads.get(arg_types)
    if cres is not None:      # an exact match (else numba converted: keep dispatching)
        _entries[key] = cres.entry_point
    return result


def _type_key(a):
    if isinstance(a, np.ndarray):
        return (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable)
    if isinstance(a, tuple):    # a bundle: its type is that of its fields
        return (type(a), tuple(map(_type_key, a)))
    if isinstance(a, KernelPointer):
        return (KernelPointer, a.signature())
    return type(a)


def check_ops(program, op_ids) -> None:
    """Refuse a program that holds ops outside ``op_ids``: an op-set interpreter would run
    them as NO_OP."""
    outside = sorted({ins.op.name for comp in program.components for ins in comp
                      if ins.op.id not in op_ids and ins.op.id != 0})
    if outside:
        raise ValueError(f"the program uses ops the interpreter was not generated for: "
                         f"{', '.join(outside)} (pass ops=None for every op)")


def _as_f64(name, a, ndim):
    arr = np.ascontiguousarray(a, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    return arr


def run(program, x_train, y_train, x_valid, y_valid, *, eval_type: int = EvalType.RMS_ERROR,
        num_classes: int = 0, epochs: int = 1, order=None, train_steps: int | None = None,
        seed: int = 0, max_abs_error: float = 100.0, engine: str = "auto",
        cache: jit_cache.KernelCache | None = None, ops=None) -> RunResult:
    """Evaluate ``program`` on one task exactly as the search does, returning predictions.

    ``ops``: the op ids the interpreter is generated for (a search passes its config's, whose
    interpreter it has compiled already); None means every op.  ``cache`` holds compiled
    candidates; interpreters live in the default cache (one per op set and feature size)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    eval_type = EvalType.of(eval_type)
    program.validate()  # the kernels index memory without bounds checks
    if ops is not None:
        check_ops(program, ops)
    mem = program.memory
    xtr, xva = _as_f64("x_train", x_train, 2), _as_f64("x_valid", x_valid, 2)
    ytr, yva = _as_f64("y_train", y_train, 1), _as_f64("y_valid", y_valid, 1)
    F = mem.features
    if xtr.shape[1] != F or xva.shape[1] != F:
        raise ValueError(f"features must have {F} columns (the program's feature size)")
    if ytr.shape[0] != xtr.shape[0] or yva.shape[0] != xva.shape[0]:
        raise ValueError(f"labels and features disagree on the number of examples: x_train "
                         f"{xtr.shape[0]}, y_train {ytr.shape[0]}, x_valid {xva.shape[0]}, "
                         f"y_valid {yva.shape[0]}")
    if eval_type == EvalType.MULTICLASS:
        if mem.vectors < 3:
            raise ValueError("multi-class tasks need at least 3 vectors (v1 label, v2 prediction)")
        if not 1 <= num_classes <= F:
            raise ValueError(f"num_classes must be in 1..{F} (the feature size), got {num_classes}")
        for name, y in (("y_train", ytr), ("y_valid", yva)):
            if y.size and not (np.all(y == np.floor(y)) and y.min() >= 0 and y.max() < num_classes):
                raise ValueError(f"{name} must hold class indices 0..{num_classes - 1}")
    n_unique = xtr.shape[0]
    if order is None:
        order = np.tile(np.arange(n_unique, dtype=np.int32), max(epochs, 1))
    order = np.asarray(order)
    if order.ndim != 1 or (order.size and not np.issubdtype(order.dtype, np.integer)):
        raise ValueError("order must be a 1-D array of training example indices")
    if order.size and (order.min() < 0 or order.max() >= n_unique):
        raise ValueError(f"order holds indices outside 0..{n_unique - 1}")
    order = np.ascontiguousarray(order, dtype=np.int32)
    n_steps = len(order) if train_steps is None else min(train_steps, len(order))
    if n_steps < 0:
        raise ValueError(f"train_steps must be >= 0, got {train_steps}")
    outputs = num_classes if eval_type == EvalType.MULTICLASS else 1
    n_valid = xva.shape[0]
    task = TaskData(xtr, ytr, order, n_unique, xva, yva, n_valid, int(eval_type), num_classes)
    settings = RunSettings(n_steps, n_valid, float(max_abs_error), np.uint64(seed % (1 << 64)), 0)
    registers = new_registers(mem.scalars, mem.vectors, mem.matrices, F)
    record = new_record(0, n_steps, n_valid, outputs)
    mode = eval_type.task_mode
    chosen = engine
    if engine == "auto":
        chosen = _auto_choice(program, mode, n_steps, n_valid, epochs, cache)
    if chosen == "interp":
        evaluate = interpreter.evaluate_function(ops, F)
        fitness = call_compiled(evaluate, (interpreter_program(program, mode), task, settings,
                                           registers, record))
    else:
        from ._compiled_driver import drive    # compiled when first imported: not before use
        canon, h = canonical(program, mode)
        module = (cache or jit_cache.default_cache()).get(canon, h)
        fitness = call_compiled(drive, (module.pointer, task, settings, registers, record, F))
    steps = int(record.counters[STEPS_DONE])
    return RunResult(float(fitness), record.train_predictions[:steps], record.valid_predictions,
                     steps, chosen)


def interpreter_program(program, mode: int) -> ProgramArrays:
    """The program as the interpreter runs it: its arrays, with random-op stream ids
    numbered over the live instructions (what the canonical form would number)."""
    code, data, size = program.to_arrays()
    mem = program.memory
    live = live_instructions(code, size, mem.scalars, mem.vectors, mode)
    return ProgramArrays(code, data, stream_ids(code, size, live), size)


def _auto_choice(program, mode, n_steps, n_valid, epochs, cache) -> str:
    cache = cache or jit_cache.default_cache()
    canon, h = canonical(program, mode)
    if cache.path_for(h, canon.memory.features).exists():
        return "compiled"
    n_predict, n_learn = len(canon.predict), len(canon.learn)
    work = n_steps * (n_predict + n_learn) + max(epochs, 1) * n_valid * n_predict
    saved = work * SAVED_SECONDS_PER_INSTRUCTION
    return "compiled" if saved > cache.expected_compile_seconds() else "interp"
