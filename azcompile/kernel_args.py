"""The bundles the evaluation driver takes, as named tuples of arrays and numbers.

numba passes a named tuple as one argument and reads its fields by name at no cost, so the
driver takes five bundles instead of two dozen positional arrays.  The driver's text is
copied into every generated kernel module (azcompile/driver.py); these classes are not: a
kernel and its caller must agree on one class per bundle, so it lives here.

These types are part of the @njit kernels' signatures (jit_cache fingerprints modules
that mention @njit, and must see this one: a changed field changes the machine code).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

# The program the interpreter runs (a compiled candidate has its own built in and takes
# None): code int32[3, L, 4] rows (op, in1, in2, out), data float64[3, L, 4], stream
# int32[3, L] random-op stream ids (-1: no stream), size int32[3] instructions per component.
ProgramArrays = namedtuple("ProgramArrays", "code data stream size")

# The program's memory: s, v, m in the op table's notation, plus the scratch vector and
# matrix that some ops compute into before writing their output.
Registers = namedtuple("Registers", "scalars vectors matrices vector_scratch matrix_scratch")

# One task: training examples and the order they are visited in over all epochs, validation
# examples, and how predictions are scored (eval type code, number of classes).
TaskData = namedtuple("TaskData", "x_train y_train order n_train x_valid y_valid n_valid "
                                  "eval_type num_classes")

# What one run does: the train budget (steps), how many validation examples each pass uses
# (the FEC probe uses fewer than the task has), the error bound that fails training, the
# random-op seed, and how many errors of the first epoch to record (FEC's fingerprint).
RunSettings = namedtuple("RunSettings", "train_steps valid_examples max_abs_error seed n_record")

# What a run leaves behind: recorded errors, its counters, and the raw predictions (only as
# many rows as the arrays have: zero rows in a search).
RunRecord = namedtuple("RunRecord", "train_errors valid_errors counters train_predictions "
                                    "valid_predictions")
# Many tasks at once (a search's task set), padded to common shapes: per task its examples
# and epoch order (float64[T, n, F], float64[T, n], int32[T, steps]), and its numbers
# (int64[T] each): distinct training examples, full train budget, validation examples,
# eval type, classes.
TaskBatch = namedtuple("TaskBatch", "x_train y_train x_valid y_valid order n_train max_steps "
                                    "n_valid eval_type num_classes")

# One run per task of a TaskBatch: its train budget (int64[T]; negative: the task does not
# run) and validation examples (int64[T]), and the settings all runs share.
RunBatch = namedtuple("RunBatch", "train_steps valid_examples max_abs_error seed n_record")

# What those runs leave, per task: recorded errors (float64[T, n]) and the counters
# (int64[T, N_COUNTERS]); ``predictions`` is a zero-row array (no prediction is recorded).
RecordBatch = namedtuple("RecordBatch", "train_errors valid_errors counters predictions")

# RunRecord.counters fields: errors recorded, train steps done, and the component calls
# made, all and Learn's (with the components' sizes: the instructions executed).
TRAIN_ERRORS_RECORDED, VALID_ERRORS_RECORDED, STEPS_DONE, CALLS, LEARN_CALLS = range(5)
N_COUNTERS = 5


def new_registers(scalars: int, vectors: int, matrices: int, features: int) -> Registers:
    """Zeroed memory for one program; reusable across tasks and programs (the driver clears
    it before each run)."""
    return Registers(np.zeros(scalars), np.zeros((vectors, features)),
                     np.zeros((matrices, features, features)), np.zeros(features),
                     np.zeros((features, features)))


def new_record(errors: int = 0, train_rows: int = 0, valid_rows: int = 0,
               outputs: int = 1) -> RunRecord:
    """Room for ``errors`` recorded errors of each kind and the given prediction rows."""
    return RunRecord(np.zeros(errors), np.zeros(errors), np.zeros(N_COUNTERS, dtype=np.int64),
                     np.full((train_rows, outputs), np.nan), np.full((valid_rows, outputs), np.nan))


def new_record_batch(tasks: int, errors: int) -> RecordBatch:
    """Room for ``errors`` recorded errors of each kind per task, and the counters."""
    return RecordBatch(np.zeros((tasks, errors)), np.zeros((tasks, errors)),
                       np.zeros((tasks, N_COUNTERS), dtype=np.int64), np.zeros((0, 1)))
