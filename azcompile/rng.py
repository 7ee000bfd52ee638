"""Random numbers: a counter-based stream for random ops, and SplitMix64 for search state.

Random ops (the uniform and Gaussian set ops) draw element ``e`` of their value from a pure
function of ``(evaluation seed, stream id, call index, e)``.  The stream id of a random
instruction is its ordinal among the *live* random instructions of the program, and the call
index counts component executions (Setup is call 0, then every Predict and Learn call in the
order the executor makes them).  Nothing is consumed from shared state, so removing dead code
can never shift the numbers a live instruction sees: the raw program, its canonical form, the
compiled kernel and the exported module all draw the same values.

The search's own randomness (mutation, tournaments, seeds) uses SplitMix64, whose whole state
is one uint64: it checkpoints as a number and runs inside numba.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_M53 = 1.0 / 9007199254740992.0
TWO_PI = 6.283185307179586


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64's finaliser: a bijective, well-mixed map of uint64."""
    z = np.uint64(z)
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, error_model="numpy")
def stream_base(seed, stream, call):
    """The key of one random instruction at one call; elements are drawn from it."""
    h = mix64(np.uint64(seed) + GOLDEN * np.uint64(stream + 1))
    return mix64(h ^ (GOLDEN * np.uint64(call + 1)))


@njit(cache=True, inline="always")
def open_unit(base, e):
    """Element e as a double in the open interval (0, 1)."""
    x = mix64(base + GOLDEN * np.uint64(e + 1))
    return (float(x >> np.uint64(11)) + 0.5) * _TWO_POW_M53


@njit(cache=True, error_model="numpy")
def uniform_at(base, e, low, high):
    """Uniform in (low, high); like Abseil, an empty range gives ``low``."""
    if not low < high:
        return low
    return low + open_unit(base, e) * (high - low)


@njit(cache=True, error_model="numpy")
def gaussian_at(base, e, mean, stdev):
    """Normal(mean, stdev) by Box-Muller on elements 2e and 2e+1."""
    u1 = open_unit(base, 2 * e)
    u2 = open_unit(base, 2 * e + 1)
    return mean + stdev * (math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2))


# ---- SplitMix64 sequential generator over a one-element uint64 state array ----------------

@njit(cache=True, inline="always")
def next_u64(state):
    state[0] = state[0] + GOLDEN
    return mix64(state[0])


@njit(cache=True, inline="always")
def next_float(state):
    """Uniform double in [0, 1)."""
    return float(next_u64(state) >> np.uint64(11)) * _TWO_POW_M53


@njit(cache=True, inline="always")
def next_int(state, n):
    """Uniform integer in [0, n) for n >= 1."""
    k = int(next_float(state) * n)
    return k if k < n else n - 1


@njit(cache=True, error_model="numpy")
def next_gaussian(state):
    u1 = (float(next_u64(state) >> np.uint64(11)) + 0.5) * _TWO_POW_M53
    u2 = next_float(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(TWO_PI * u2)


def new_state(seed: int) -> np.ndarray:
    """A generator state for ``seed`` (any int; reduced modulo 2**64)."""
    return np.array([int(mix64(np.uint64(int(seed) % (1 << 64))))], dtype=np.uint64)


# ---- pure-Python twins, for the exported module and for tests -----------------------------
# (The export copies this source; it must stay numpy/stdlib only and match the numba code.)

PY_RNG_SOURCE = '''
_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix64(z):
    z &= _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _stream_base(seed, stream, call):
    h = _mix64(seed + _GOLDEN * (stream + 1))
    return _mix64(h ^ ((_GOLDEN * (call + 1)) & _MASK))


def _open_unit(base, e):
    x = _mix64(base + _GOLDEN * (e + 1))
    return (float(x >> 11) + 0.5) * (1.0 / 9007199254740992.0)


def _uniform(base, e, low, high):
    if not low < high:
        return low
    return low + _open_unit(base, e) * (high - low)


def _gaussian(base, e, mean, stdev):
    u1 = _open_unit(base, 2 * e)
    u2 = _open_unit(base, 2 * e + 1)
    return mean + stdev * (math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2))
'''
