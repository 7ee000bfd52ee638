"""Checks on search state read back from disk (checkpoints, a worker's state).

The numba kernels index memory without bounds checks, so every array and field of a stored
state is checked here before anything reaches them.  Each check raises ``CheckpointError``
with one line that names the field.
"""
from __future__ import annotations

import json

import numpy as np


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: unreadable, of another format, or damaged."""


class _Absent:
    def __repr__(self):
        return "(not set)"


ABSENT = _Absent()


def describe(value, width: int = 48) -> str:
    """A value as JSON, cut to ``width`` characters, for an error message."""
    text = repr(value) if isinstance(value, _Absent) else json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---- checks callers compose --------------------------------------------------------------------

def field(info: dict, key: str, valid, what: str):
    """``info[key]`` if ``valid(value)``; else a CheckpointError naming the field."""
    if key not in info:
        raise CheckpointError(f"'{key}' is missing")
    value = info[key]
    try:
        ok = bool(valid(value))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise CheckpointError(f"'{key}' is {describe(value)}, not {what}")
    return value


def is_int(low=None, high=None):
    def check(v):
        return (isinstance(v, int) and not isinstance(v, bool)
                and (low is None or v >= low) and (high is None or v <= high))
    return check


def is_number(low=None):
    def check(v):
        return (isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                and (low is None or v >= low))
    return check


def optional(check):
    return lambda v: v is None or check(v)


def array(arrays: dict, key: str, like: np.ndarray) -> np.ndarray:
    """``arrays[key]``, which must have the shape and dtype of ``like``."""
    if key not in arrays:
        raise CheckpointError(f"array '{key}' is missing")
    arr = arrays[key]
    if arr.shape != like.shape or arr.dtype != like.dtype:
        raise CheckpointError(f"array '{key}' is {arr.dtype}{list(arr.shape)}, the configuration "
                              f"needs {like.dtype}{list(like.shape)}")
    return arr


def within(arr: np.ndarray, key: str, low, high) -> None:
    """Every value of ``arr`` in [low, high] (integer arrays, or floats that must be whole)."""
    if arr.size == 0:
        return
    if arr.dtype.kind == "f" and not (np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr))):
        raise CheckpointError(f"array '{key}' holds values that are not whole numbers")
    lo, hi = arr.min(), arr.max()
    if lo < low or hi > high:
        raise CheckpointError(f"array '{key}' holds values in [{lo}, {hi}], outside "
                              f"[{low}, {high}]")


def adam_state(arrays: dict, stem: str) -> None:
    """A learner trained by Adam (the RL controller, the relaxation): its parameters, Adam's
    moments and its counters (``STEM_theta``, ``STEM_adam_m``, ``STEM_adam_v``,
    ``STEM_counters``) finite, and the second moment never negative."""
    for name in ("theta", "adam_m", "adam_v", "counters"):
        key = f"{stem}_{name}"
        if not np.all(np.isfinite(arrays[key])):
            raise CheckpointError(f"array '{key}' holds values that are not finite")
    if np.any(arrays[f"{stem}_adam_v"] < 0):
        raise CheckpointError(f"array '{stem}_adam_v' holds negative values")
