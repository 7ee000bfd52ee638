"""How a task scores its predictions: the reference's EvalType, in one place.

The codes are the reference's proto values (they appear in stored tasks and configs as
names).  numba kernels receive them as plain ints (``int(EvalType.X)``): a module-level int
is a compile-time constant there, an IntEnum member would be typed as an enum.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np

from .liveness import SCALAR_TASK, VECTOR_TASK
from .program import ProgramError


class EvalType(IntEnum):
    RMS_ERROR = 1      # regression: fitness 1 - (2/pi) atan(rmse)
    ACCURACY = 4       # binary classification: sigmoid(s1) vs label 0/1
    MULTICLASS = 5     # softmax over v2[:K] vs a class index

    @property
    def config_name(self) -> str:
        """The name configs and the CLI use ("rms_error", "accuracy", "multiclass")."""
        return self.name.lower()

    @property
    def task_mode(self) -> int:
        """Where the label and the prediction live (liveness SCALAR_TASK / VECTOR_TASK)."""
        return VECTOR_TASK if self is EvalType.MULTICLASS else SCALAR_TASK

    @classmethod
    def parse(cls, name: str) -> "EvalType":
        """The eval type a config names; ValueError (listing the names) for any other."""
        if name not in config_names():
            raise ValueError(f"eval type {name!r} is not one of {config_names()}")
        return cls[name.upper()]

    @classmethod
    def of_meta(cls, meta: dict, given=None) -> "EvalType":
        """A program's eval type: ``given`` (a name or code) first, then ``meta['eval_type']``,
        then ``meta['task']['eval_type']``, else rms_error; ProgramError for anything else."""
        task_meta = meta.get("task") if isinstance(meta.get("task"), dict) else {}
        chosen = given if given is not None else meta.get("eval_type", task_meta.get("eval_type"))
        if chosen is None:
            return cls.RMS_ERROR
        if isinstance(chosen, (int, np.integer)) and not isinstance(chosen, bool) \
                and int(chosen) in {int(e) for e in cls}:
            return cls(int(chosen))
        if isinstance(chosen, str) and chosen.lower() in config_names():
            return cls.parse(chosen.lower())
        raise ProgramError(f"eval type {str(chosen)[:40]!r} is not one of {sorted(config_names())}")

    @classmethod
    def of(cls, code: int) -> "EvalType":
        """The eval type of a code; ValueError for any other value."""
        try:
            return cls(code)
        except ValueError:
            raise ValueError(f"eval_type must be one of {by_name()} (by value), got {code!r}") from None


# The codes as plain ints, for kernels and for the arrays tasks are stored in.
RMS_ERROR = int(EvalType.RMS_ERROR)
ACCURACY = int(EvalType.ACCURACY)
MULTICLASS = int(EvalType.MULTICLASS)


def by_name() -> dict[str, int]:
    """Config name -> code, for the places that offer the names as choices."""
    return {e.config_name: int(e) for e in EvalType}


def config_names() -> list[str]:
    return [e.config_name for e in EvalType]
