"""The preprocessing an export carries: the standardisation the search's tasks applied to
the user's data (features, and the target of a regression), read from the program's
``meta["preprocessing"]`` and checked, and its block of the module (constants, the
``standardise_features`` / ``restore_target`` functions and the ``_Preprocessed`` estimator
base that applies them).  The functional API stays the engine's: it takes standardised
features, as the search ran them."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .. import codegen
from ..notation import literal
from ..program import ProgramError
from .provenance import docstring_text

_MAX_NAME = 40


@dataclass(frozen=True)
class Preprocessing:
    x_mean: tuple
    x_scale: tuple
    y_mean: float | None        # None: a classification target (labels, not standardised)
    y_scale: float | None
    z_limit: float              # inputs further out warn
    feature_names: tuple = ()


def _numbers(doc: dict, key: str, count: int) -> tuple:
    value = doc.get(key)
    ok = (isinstance(value, list) and len(value) == count and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in value))
    if not ok:
        raise ProgramError(f"meta.preprocessing.{key} must be {count} finite numbers (one per "
                           "feature)")
    return tuple(float(v) for v in value)


def _number(doc: dict, key: str, positive: bool = False) -> float | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0):
        raise ProgramError(f"meta.preprocessing.{key} must be a finite"
                           f"{' positive' if positive else ''} number or null")
    return float(value)


def read_preprocessing(meta: dict, features: int) -> Preprocessing | None:
    """The program's preprocessing (None if it has none), every number checked."""
    doc = meta.get("preprocessing")
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ProgramError("meta.preprocessing must be an object")
    x_mean, x_scale = _numbers(doc, "x_mean", features), _numbers(doc, "x_scale", features)
    if min(x_scale) <= 0:
        raise ProgramError("meta.preprocessing.x_scale must be positive")
    y_mean, y_scale = _number(doc, "y_mean"), _number(doc, "y_scale", positive=True)
    if (y_mean is None) != (y_scale is None):
        raise ProgramError("meta.preprocessing needs both y_mean and y_scale, or neither")
    names = doc.get("feature_names", [])
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)
            and len(names) in (0, features)):
        raise ProgramError(f"meta.preprocessing.feature_names must be {features} strings")
    z_limit = _number(doc, "z_limit", positive=True) or 6.0
    return Preprocessing(x_mean, x_scale, y_mean, y_scale, z_limit, tuple(names))


def _vector(values) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def preprocessing_block(pre: Preprocessing) -> str:
    target = ", and the target minus Y_MEAN, divided by Y_SCALE" if pre.y_scale else ""
    return codegen.template("export_preprocessing.py.tmpl").substitute(
        TARGET_TEXT=target, X_MEAN=_vector(pre.x_mean), X_SCALE=_vector(pre.x_scale),
        Y_MEAN="None" if pre.y_mean is None else literal(pre.y_mean),
        Y_SCALE="None" if pre.y_scale is None else literal(pre.y_scale),
        Z_LIMIT=literal(pre.z_limit))


def preprocessing_lines(pre: Preprocessing) -> list[str]:
    """The docstring's account of the preprocessing and of the columns."""
    lines = ["Preprocessing (the estimator applies it; preprocess=False turns it off):",
             "    features: standardised with X_MEAN and X_SCALE, fitted on the data of the search",
             "    target: " + ("standardised with Y_MEAN and Y_SCALE; predictions are restored to "
                               "its units" if pre.y_scale else "class labels, as given")]
    if pre.feature_names:
        lines += ["", "Features (the columns, in order, as given to fit):"]
        lines += [f"    {i:3d}  {docstring_text(name[:_MAX_NAME])}"
                  for i, name in enumerate(pre.feature_names)]
    return lines
