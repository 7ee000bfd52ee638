"""Learning-rate hoisting: Learn's one step size becomes the module constant LEARNING_RATE.

Guarantee: applied only when Learn multiplies by exactly one number other than 0 and +-1
(its step size) and no register is already named LEARNING_RATE; the constant holds the
same float, so no computed number changes.
"""
from __future__ import annotations

import math

import libcst as cst

from ...notation import literal

from .nodes import constant_value

NAME = "LEARNING_RATE"


class _StepSizes(cst.CSTTransformer):
    """Collects the factors of Learn's products; replaces ``replace`` by the name."""

    def __init__(self):
        super().__init__()
        self.values: set = set()
        self.replace: float | None = None

    def _factor(self, node) -> float | None:
        value = constant_value(node)
        if value is None or not math.isfinite(value) or value in (0.0, 1.0, -1.0):
            return None
        return value

    def visit_BinaryOperation(self, node):
        if isinstance(node.operator, cst.Multiply):
            for side in (node.left, node.right):
                value = self._factor(side)
                if value is not None:
                    self.values.add(repr(value))

    def leave_BinaryOperation(self, original, updated):
        if self.replace is None or not isinstance(updated.operator, cst.Multiply):
            return updated
        for side in ("left", "right"):
            if self._factor(getattr(updated, side)) == self.replace:
                updated = updated.with_changes(**{side: cst.Name(NAME)})
        return updated


def hoist_learning_rate(func: cst.FunctionDef, taken: set) -> tuple[cst.FunctionDef, str]:
    """(Learn with its single step size named, the constant's line) or (func, "");
    ``taken``: the names already in use."""
    finder = _StepSizes()
    func.visit(finder)
    if len(finder.values) != 1 or NAME in taken:
        return func, ""
    finder.replace = float(next(iter(finder.values)))
    line = f"{NAME} = {literal(finder.replace, non_finite=True)}  # a constant Learn sets and multiplies by"
    return func.visit(finder), line
