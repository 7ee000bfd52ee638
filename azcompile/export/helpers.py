"""The helpers every exported module carries, as a module of its own.

Exported modules hold a copy of this file's source from the ``# ---- numeric helpers`` line
on (``assemble.helper_source``), with the text of ``azcompile.rng``'s draws
(``rng.py_rng_source()``) in place of the line that runs them here.  Folding constants at
export calls these same functions, so a folded number is the number the module computes.
"""
import math

import numpy as np

from .. import rng as _rng

# ---- numeric helpers --------------------------------------------------------------------
# The search engine adds from left to right and calls the C library's math functions; numpy
# adds pairwise (np.sum), through BLAS (np.dot, @) and has its own vectorised exp, log, tan...
# which differ in the last bits.  These helpers compute what the engine computes, so this
# module reproduces the search's numbers exactly.


def _sum(a, axis=None):
    """Sum from left to right (the leading 0.0 + turns a -0.0 total into 0.0, as the
    engine's 0.0 start does)."""
    if axis is None:
        return 0.0 + np.cumsum(a)[-1]
    return 0.0 + np.take(np.cumsum(a, axis=axis), -1, axis=axis)


def _dot(a, b):
    """Inner product, summed from left to right."""
    return _sum(a * b)


def _matmul(a, b):
    """Matrix-vector or matrix-matrix product, summed from left to right."""
    if b.ndim == 1:
        return _sum(a * b, axis=1)
    return _sum(a[:, :, None] * b[None, :, :], axis=1)


# math raises where IEEE arithmetic (and so the engine) returns inf or nan.
def _domain(f, x):
    try:
        return f(x)
    except ValueError:  # outside the domain, e.g. arcsin(2) or sin(inf)
        return math.nan


def _sin(x):
    return _domain(math.sin, x)


def _cos(x):
    return _domain(math.cos, x)


def _tan(x):
    return _domain(math.tan, x)


def _arcsin(x):
    return _domain(math.asin, x)


def _arccos(x):
    return _domain(math.acos, x)


def _arctan(x):
    return math.atan(x)


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _log(x):
    if x > 0.0 or x != x:
        return math.log(x)
    return -math.inf if x == 0.0 else math.nan


def _sigmoid(x):
    return 1.0 / (1.0 + _exp(-x))


# ---- random ops -------------------------------------------------------------------------
# Element e of a random op's value is a pure function of (seed, stream, call, e): the stream
# is the op's ordinal among the program's random ops, the call counts component runs (Setup
# is call 0, then every Predict and Learn).  Copied from the engine (azcompile.rng).

# The draws are plain Python in azcompile.rng, which rebinds their names to jitted versions;
# their text (the one copy) runs here, as it runs in every exported module.
exec(compile(_rng.py_rng_source(), "azcompile.rng draws", "exec"))  # the RNG draws

def _uniform_draws(seed, stream, call, low, high, shape=()):
    base = _stream_base(seed, stream, call)
    if shape == ():
        return _uniform(base, 0, low, high)
    values = [_uniform(base, e, low, high) for e in range(int(np.prod(shape)))]
    return np.array(values).reshape(shape)


def _gaussian_draws(seed, stream, call, mean, stdev, shape=()):
    base = _stream_base(seed, stream, call)
    if shape == ():
        return _gaussian(base, 0, mean, stdev)
    values = [_gaussian(base, e, mean, stdev) for e in range(int(np.prod(shape)))]
    return np.array(values).reshape(shape)
