"""The interpreter tier, as called from Python or from other numba code.

The kernel itself is generated (``_interp_kernel.py``); this module adds the entry points
that fix the feature size as a compile-time constant (``numba.literally``) and the
workspace of memory arrays an evaluation runs in.
"""
from __future__ import annotations

import numpy as np
from numba import literally, njit

from . import numba_cache  # noqa: F401  (numba's cache folder before our functions)
from ._interp_kernel import evaluate_task


def workspace(scalars: int, vectors: int, matrices: int, features: int):
    """Memory for one evaluation: (s, v, m, tv, tm); reused across tasks and programs."""
    return (np.zeros(scalars), np.zeros((vectors, features)), np.zeros((matrices, features, features)),
            np.zeros(features), np.zeros((features, features)))


@njit(cache=True, error_model="numpy")
def evaluate_task_literal(code, data, stream, size, xtr, ytr, order, n_unique, n_steps, xva, yva,
                          n_valid, n_valid_total, eval_type, K, max_abs_error, seed, s, v, m, tv,
                          tm, n_record, train_err, valid_err, counters, train_pred, valid_pred, F):
    """``evaluate_task`` specialised on the literal feature size (for calls from Python)."""
    F = literally(F)
    return evaluate_task(code, data, stream, size, xtr, ytr, order, n_unique, n_steps, xva, yva,
                         n_valid, n_valid_total, eval_type, K, max_abs_error, seed, s, v, m, tv,
                         tm, n_record, train_err, valid_err, counters, train_pred, valid_pred, F)
