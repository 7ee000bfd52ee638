"""The reference's synthetic task generators (task_util.h): linear and teacher-network
regression, and its unit-test tasks.

Generated data is distributionally equivalent to the reference (the same seeds, offsets and
distributions on numpy's MT19937), not bit-equivalent: the C++ draws through Abseil.
"""
from __future__ import annotations

import numpy as np

from azcompile.eval_type import RMS_ERROR

from .tasks import UINT32, Task, TaskError

# Seed offsets of the reference (task_util.h).
LINEAR_DATA_OFFSET = 939723201
LINEAR_PARAM_OFFSET = 997958712
NONLINEAR_DATA_OFFSET = 865546086
NONLINEAR_PARAM_OFFSET = 174299604


def _rng(seed: int, offset: int) -> np.random.Generator:
    return np.random.Generator(np.random.MT19937((seed + offset) % UINT32))


def _gaussian_features(rng, n_train, n_valid, features):
    """All training vectors first, then all validation vectors, each entry N(0, 1)."""
    x = rng.standard_normal((n_train + n_valid, features))
    return x[:n_train], x[n_train:]


def linear_task(features, n_train, n_valid, data_seed, param_seed, epochs=1, **_):
    """scalar_linear_regression_task: label = w . x with w ~ N(0, 1), no noise, no bias."""
    xtr, xva = _gaussian_features(_rng(data_seed, LINEAR_DATA_OFFSET), n_train, n_valid, features)
    w = _rng(param_seed, LINEAR_PARAM_OFFSET).standard_normal(features)
    return Task(f"linear(d{data_seed},p{param_seed})", xtr, xtr @ w, xva, xva @ w, RMS_ERROR,
                epochs=epochs, data_seed=data_seed, param_seed=param_seed, info={"weights": w})


def nonlinear_task(features, n_train, n_valid, data_seed, param_seed, epochs=1, **_):
    """scalar_2layer_nn_regression_task: label = u . relu(W x), rows 0 and 2 of W and entries
    0 and 2 of u zeroed, as in the reference's teacher."""
    if features < 3:
        raise TaskError("the nonlinear task needs features_size >= 3 (it zeroes unit 2)")
    xtr, xva = _gaussian_features(_rng(data_seed, NONLINEAR_DATA_OFFSET), n_train, n_valid, features)
    prng = _rng(param_seed, NONLINEAR_PARAM_OFFSET)
    W = prng.standard_normal((features, features))
    W[0, :] = 0.0
    W[2, :] = 0.0
    u = prng.standard_normal(features)
    u[0] = u[2] = 0.0

    def label(x):
        return np.maximum(x @ W.T, 0.0) @ u

    return Task(f"nonlinear(d{data_seed},p{param_seed})", xtr, label(xtr), xva, label(xva),
                RMS_ERROR, epochs=epochs, data_seed=data_seed, param_seed=param_seed)


def _constant_task(value_fn, name):
    def make(features, n_train, n_valid, data_seed, param_seed, epochs=1, eval_type=RMS_ERROR, **_):
        xtr = np.array([[value_fn(k)] * features for k in range(n_train)], dtype=np.float64)
        xva = np.array([[value_fn(k)] * features for k in range(n_valid)], dtype=np.float64)
        return Task(name, xtr, xtr[:, 0].copy(), xva, xva[:, 0].copy(), eval_type, epochs=epochs,
                    data_seed=data_seed, param_seed=param_seed)
    return make


# The reference's unit-test tasks: every feature (and the label) is 0, 1, or the example's index.
zeros_task = _constant_task(lambda k: 0.0, "zeros")
ones_task = _constant_task(lambda k: 1.0, "ones")
increment_task = _constant_task(lambda k: float(k), "increment")
