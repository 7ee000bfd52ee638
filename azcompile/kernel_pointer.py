"""Kernels passed to other kernels as function pointers (numba's first-class functions).

A numba function that calls another one links a copy of the callee's machine-independent
code into its own and optimises the whole again, so every caller of the interpreter paid for
compiling the interpreter once more (measured on a cold start of the demo: the interpreter's
code was optimised in eight functions, half of the 120 s of compiling was LLVM).  A caller
that receives the kernel as a pointer of a fixed signature is compiled once, knows nothing of
the kernel, and is cached on disk under that signature: the search loop compiles once per
machine, the kernel once per op set and feature size, a candidate's components once.

The signatures name the bundles of ``kernel_args`` as the callers build them (C-contiguous
arrays, 64-bit integers); ``KernelPointer`` wraps a compiled function as numba's "wrapper
address protocol" object, which numba types as ``FunctionType(signature)`` wherever it
appears, a bundle's field included.
"""
from __future__ import annotations

import numpy as np
from numba import types, typeof
from numba.extending import intrinsic

from .kernel_args import (ProgramArrays, RunBatch, RunSettings, TaskBatch, TaskData,
                          new_record, new_record_batch, new_registers)

_I32 = np.zeros((1, 1, 1), dtype=np.int32)


def _bundle_types():
    program = ProgramArrays(_I32, np.zeros((1, 1, 1)), np.zeros((1, 1), dtype=np.int32),
                            np.zeros(1, dtype=np.int32))
    x, y = np.zeros((1, 1)), np.zeros(1)
    task = TaskData(x, y, np.zeros(1, dtype=np.int32), 1, x, y, 1, 1, 1)
    run = RunSettings(1, 1, 1.0, np.uint64(0), 1)
    return (typeof(program), typeof(task), typeof(run), typeof(new_registers(1, 1, 1, 1)),
            typeof(new_record(1, 1, 1)))


def _batch_types():
    f3, f2, i64 = np.zeros((1, 1, 1)), np.zeros((1, 1)), np.zeros(1, dtype=np.int64)
    tasks = TaskBatch(f3, f2, f3, f2, np.zeros((1, 1), dtype=np.int32), i64, i64, i64, i64, i64)
    runs = RunBatch(i64, i64, 1.0, np.uint64(0), 1)
    return typeof(tasks), typeof(runs), typeof(new_record_batch(1, 1))


PROGRAM_TYPE, TASK_TYPE, RUN_TYPE, REGISTERS_TYPE, RECORD_TYPE = _bundle_types()
TASK_BATCH_TYPE, RUN_BATCH_TYPE, RECORD_BATCH_TYPE = _batch_types()

# An interpreter kernel: fitness of (program, task, run settings, memory, record), the
# feature size built in.
EVALUATE = types.float64(PROGRAM_TYPE, TASK_TYPE, RUN_TYPE, REGISTERS_TYPE, RECORD_TYPE)

# The same on many tasks in one call (what the search calls: a call through a pointer
# costs ~2 ns per array it passes, ~100 ns for EVALUATE's): fitness[t] of each task that runs.
EVALUATE_TASKS = types.none(PROGRAM_TYPE, TASK_BATCH_TYPE, RUN_BATCH_TYPE, REGISTERS_TYPE,
                            RECORD_BATCH_TYPE, types.float64[::1])

# A compiled candidate: run component ``comp`` (0 Setup, 1 Predict, 2 Learn) on the memory,
# given as the data pointers of its five arrays (Registers' order), with the random-op seed
# and the call number (the random streams' position).  Pointers, not the arrays: a pointer
# call passing the Registers bundle cost ~39 ns against ~6 ns (43 machine words and the
# arrays' reference counts, against 5 words), and a Predict or Learn is often a few ns.
FLOAT_POINTER = types.CPointer(types.float64)
COMPONENT = types.none(types.int64, FLOAT_POINTER, FLOAT_POINTER, FLOAT_POINTER, FLOAT_POINTER,
                       FLOAT_POINTER, types.uint64, types.int64)
COMPONENT_FUNCTION = types.FunctionType(COMPONENT)

# The driver of compiled candidates: an interpreter kernel's arguments with the candidate's
# components in place of the program, and the feature size.
DRIVE = types.float64(COMPONENT_FUNCTION, TASK_TYPE, RUN_TYPE, REGISTERS_TYPE, RECORD_TYPE,
                      types.int64)


@intrinsic
def data_pointer(typingctx, array):
    """The address of a C-contiguous float64 array's first element (``FLOAT_POINTER``): how
    the compiled driver hands a candidate its memory.  The array must outlive the call."""
    if not (isinstance(array, types.Array) and array.dtype == types.float64
            and array.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, args[0]).data
    return FLOAT_POINTER(array), codegen


class KernelPointer(types.WrapperAddressProtocol):
    """A compiled numba function as a pointer of one signature (numba's first-class function).

    Holds the dispatcher, so the machine code it points into stays alive.  Pickled (to a
    worker process) it is rebuilt there from the dispatcher, i.e. from that process's
    import of the kernel's module."""

    def __init__(self, dispatcher, signature):
        self.dispatcher = dispatcher
        self._signature = signature
        result = dispatcher.overloads.get(signature.args)
        if result is None:
            dispatcher.compile(signature)
            result = dispatcher.overloads[signature.args]
        self._address = result.library.get_pointer_to_function(
            result.fndesc.llvm_cfunc_wrapper_name)

    def __wrapper_address__(self) -> int:
        return self._address

    def signature(self):
        return self._signature

    def __call__(self, *args):
        return self.dispatcher(*args)

    def __reduce__(self):
        return (KernelPointer, (self.dispatcher, self._signature))
