"""libcst helpers the simplification passes share: literals, names, substitution."""
from __future__ import annotations

import math

import libcst as cst

from ...notation import literal


def name_of(node) -> str | None:
    """``x`` for a name, ``np.divide`` for an attribute of a name, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name):
        return f"{node.value.value}.{node.attr.value}"
    return None


def constant_value(node) -> float | None:
    """The number a literal node stands for (``-0.5``, ``math.inf``), else None."""
    if isinstance(node, (cst.Float, cst.Integer)):
        return float(node.evaluated_value)
    if isinstance(node, cst.Attribute) and name_of(node) in ("math.inf", "math.nan"):
        return math.inf if node.attr.value == "inf" else math.nan
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        inner = constant_value(node.expression)
        return None if inner is None else -inner
    return None


def literal_node(x: float) -> cst.BaseExpression:
    return cst.parse_expression(literal(x, non_finite=True))


def code_of(node) -> str:
    return cst.Module([]).code_for_node(node)


class _Names(cst.CSTVisitor):
    """Names read in a node (not attribute fields or keyword names)."""

    def __init__(self):
        super().__init__()
        self.found = []

    def visit_Name(self, node):
        self.found.append(node.value)

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False

    def visit_Arg(self, node):
        node.value.visit(self)
        return False


def names_in(node) -> set:
    visitor = _Names()
    node.visit(visitor)
    return set(visitor.found)


def assigned_in(node) -> set:
    """Names a statement (a loop, say) assigns anywhere inside it."""
    found = set()

    class Visitor(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

        def visit_AugAssign(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

        def visit_For(self, n):
            if isinstance(n.target, cst.Name):
                found.add(n.target.value)

    node.visit(Visitor())
    return found


class Substitute(cst.CSTTransformer):
    """Replace names by expressions (``env``: name -> node); attribute fields and keyword
    names are not names of values and stay."""

    def __init__(self, env: dict):
        super().__init__()
        self.env = env

    def visit_Attribute(self, node):
        return False

    def leave_Attribute(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def visit_Arg(self, node):
        return False

    def leave_Arg(self, original, updated):
        return updated.with_changes(value=original.value.visit(self))

    def leave_Name(self, original, updated):
        return self.env.get(updated.value, updated)


def is_docstring(stmt) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, cst.SimpleString))


def returned_values(func: cst.FunctionDef) -> list:
    """The expressions a function's final ``return`` returns, in order."""
    last = func.body.body[-1]
    if not (isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[0], cst.Return)):
        return []
    value = last.body[0].value
    return [e.value for e in value.elements] if isinstance(value, cst.Tuple) else [value]
