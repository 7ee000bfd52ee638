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

import inspect
import math
import sys

import numpy as np
from numba import njit

from . import numba_cache  # noqa: F401  (numba's cache folder before our functions)

# ---- the draws: one source for the kernels and the exported module --------------------------
# Plain Python between the two markers below.  numba jits these functions for the kernels
# (further down), and ``py_rng_source`` copies their text into every exported module, so the
# exported numbers are the engine's by construction.  The text must stay numpy/math only.
# Wrapping uint64 arithmetic is spelt np.multiply / np.add: numba compiles both to plain
# machine arithmetic, and in plain Python a numpy scalar ``*`` or ``+`` would warn on the
# (intended) overflow where the ufunc wraps silently.
# >>> shared draws
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TWO_POW_M53 = 1.0 / 9007199254740992.0
_TWO_PI = 6.283185307179586


def _mix64(z):
    """SplitMix64's finaliser: a bijective, well-mixed map of uint64."""
    z = np.uint64(z)
    z = np.multiply(z ^ (z >> np.uint64(30)), _M1)
    z = np.multiply(z ^ (z >> np.uint64(27)), _M2)
    return z ^ (z >> np.uint64(31))


def _stream_base(seed, stream, call):
    """The key of one random instruction at one call; elements are drawn from it."""
    h = _mix64(np.add(np.uint64(seed), np.multiply(_GOLDEN, np.uint64(stream + 1))))
    return _mix64(h ^ np.multiply(_GOLDEN, np.uint64(call + 1)))


def _open_unit(base, e):
    """Element e as a double in the open interval (0, 1)."""
    x = _mix64(np.add(np.uint64(base), np.multiply(_GOLDEN, np.uint64(e + 1))))
    return (float(x >> np.uint64(11)) + 0.5) * _TWO_POW_M53


def _uniform(base, e, low, high):
    """Uniform in (low, high); like Abseil, an empty range gives ``low``."""
    if not low < high:
        return low
    return low + _open_unit(base, e) * (high - low)


def _gaussian(base, e, mean, stdev):
    """Normal(mean, stdev) by Box-Muller on elements 2e and 2e+1."""
    u1 = _open_unit(base, 2 * e)
    u2 = _open_unit(base, 2 * e + 1)
    return mean + stdev * (math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2))
# <<< shared draws


def py_rng_source() -> str:
    """The shared draws as Python source, for the exported module (which calls
    ``_stream_base``, ``_uniform`` and ``_gaussian``)."""
    text = inspect.getsource(sys.modules[__name__])
    start = text.index("# >>> shared draws\n") + len("# >>> shared draws\n")
    return "\n" + text[start:text.index("# <<< shared draws")]



# The kernels' versions.  The private names are rebound too: a jitted function calls
# whatever its module's global of that name is at compile time, which must be jitted.
_mix64 = mix64 = njit(cache=True, inline="always")(_mix64)
_stream_base = stream_base = njit(cache=True, error_model="numpy")(_stream_base)
_open_unit = open_unit = njit(cache=True, inline="always")(_open_unit)
_uniform = uniform_at = njit(cache=True, error_model="numpy")(_uniform)
_gaussian = gaussian_at = njit(cache=True, error_model="numpy")(_gaussian)
GOLDEN, TWO_PI = _GOLDEN, _TWO_PI


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
