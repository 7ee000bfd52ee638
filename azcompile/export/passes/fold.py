"""Constant folding: scalar expressions of literals become the number they compute.

Guarantee: a folded literal is bit for bit the value the exported module would compute
at run time, because folding evaluates with the module's own helpers (``helpers``: C
library math, IEEE division) under ``np.errstate(all="ignore")``.  Identities are removed
only where they are exact for scalars (``x * 1``, ``x - 0.0``, ``x + -0.0``, ``x / 1``,
``minimum(a, a)``); on arrays they would alias, so arrays keep them.
"""
from __future__ import annotations

import math
import types

import libcst as cst
import numpy as np

from .. import helpers
from .nodes import code_of, constant_value, literal_node, name_of

_EXACT = ("sin", "cos", "tan", "arcsin", "arccos", "arctan", "exp", "log")
_FOLD_FUNCTIONS = {"np.divide", "np.sqrt", "np.square", "abs", *(f"_{n}" for n in _EXACT),
                   *(f"np.{n}" for n in _EXACT)}


def fold_namespace() -> dict:
    """The names folded expressions may use: the helpers, ``math``, and an ``np`` whose
    scalar functions are the helpers (the module's numpy column maps them so too)."""
    namespace = {name: getattr(helpers, name) for name in dir(helpers)
                 if name.startswith("_") and not name.startswith("__")}
    exact = {name: getattr(helpers, "_" + name) for name in _EXACT}
    namespace["math"] = math
    namespace["np"] = types.SimpleNamespace(divide=np.divide, sqrt=np.sqrt, square=np.square,
                                            **exact)
    return namespace


_NAMESPACE = fold_namespace()


class ConstantFolding(cst.CSTTransformer):
    """Evaluate scalar expressions of literals (``scalars``: the names that hold scalars,
    for the identities)."""

    def __init__(self, scalars: set):
        super().__init__()
        self.scalars = scalars

    def _foldable(self, node) -> bool:
        if constant_value(node) is not None:
            return True
        if isinstance(node, cst.BinaryOperation):
            return (isinstance(node.operator, (cst.Add, cst.Subtract, cst.Multiply, cst.Divide))
                    and self._foldable(node.left) and self._foldable(node.right))
        if isinstance(node, cst.UnaryOperation):
            return isinstance(node.operator, cst.Minus) and self._foldable(node.expression)
        if isinstance(node, cst.Call):
            return (name_of(node.func) in _FOLD_FUNCTIONS
                    and all(a.keyword is None and a.star == "" and self._foldable(a.value)
                            for a in node.args))
        if isinstance(node, cst.IfExp):
            return all(self._foldable(n) for n in (node.test, node.body, node.orelse))
        if isinstance(node, cst.Comparison):
            return self._foldable(node.left) and all(
                isinstance(c.operator, (cst.LessThan, cst.GreaterThan, cst.LessThanEqual,
                                        cst.GreaterThanEqual)) and self._foldable(c.comparator)
                for c in node.comparisons)
        return False

    def _evaluate(self, node):
        if constant_value(node) is not None or not self._foldable(node):
            return node
        with np.errstate(all="ignore"):
            # Only literals and the names above reach eval (checked by _foldable).
            value = eval(code_of(node), {"__builtins__": {"abs": abs}}, _NAMESPACE)  # noqa: S307
        if isinstance(value, (bool, np.bool_)):
            return node  # a comparison: its IfExp folds instead
        return literal_node(float(value))

    def leave_BinaryOperation(self, original, updated):
        updated = self._evaluate(updated)
        if isinstance(updated, cst.BinaryOperation):
            return _identity(updated, self.scalars)
        return updated

    def leave_UnaryOperation(self, original, updated):
        return self._evaluate(updated)

    def leave_Call(self, original, updated):
        updated = self._evaluate(updated)
        if (isinstance(updated, cst.Call) and name_of(updated.func) == "np.divide"
                and constant_value(updated.args[1].value) == 1.0
                and name_of(updated.args[0].value) in self.scalars):
            return updated.args[0].value  # x / 1 is x, bit for bit
        return updated

    def leave_IfExp(self, original, updated):
        updated = self._evaluate(updated)
        if isinstance(updated, cst.IfExp) and isinstance(updated.body, cst.Name) \
                and updated.body.deep_equals(updated.orelse):
            return updated.body  # minimum(a, a) is a
        return updated


def _identity(node: cst.BinaryOperation, scalars: set):
    """x * 1, x - 0.0 and x + -0.0 are x bit for bit (for scalars: arrays would alias)."""
    left, right = node.left, node.right
    lv, rv = constant_value(left), constant_value(right)
    if isinstance(node.operator, cst.Multiply):
        if rv == 1.0 and name_of(left) in scalars:
            return left
        if lv == 1.0 and name_of(right) in scalars:
            return right
    if isinstance(node.operator, cst.Subtract) and rv == 0.0 and math.copysign(1, rv) > 0 \
            and name_of(left) in scalars:
        return left
    if isinstance(node.operator, cst.Add) and rv == 0.0 and math.copysign(1, rv) < 0 \
            and name_of(left) in scalars:
        return left
    return node
