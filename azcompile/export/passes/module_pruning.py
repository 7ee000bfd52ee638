"""Module-level pruning: private helpers (and ``import math``) nothing reachable uses go.

Guarantee: a top-level statement is dropped only if it defines a private name (``def _x``,
``_X = ...``) or imports ``math``, and no public statement uses that name, directly or
through other kept helpers.  Public names, the template's code and the docstring stay.
Pruning an already pruned module changes nothing.
"""
from __future__ import annotations

import libcst as cst


class _Uses(cst.CSTVisitor):
    """Names a top-level statement uses, not counting the name it defines."""

    def __init__(self):
        super().__init__()
        self.used = set()

    def visit_Name(self, node):
        self.used.add(node.value)

    def visit_FunctionDef(self, node):
        for part in (node.params, node.body, *node.decorators):
            part.visit(self)
        return False

    def visit_Assign(self, node):
        node.value.visit(self)
        for target in node.targets:
            if not isinstance(target.target, cst.Name):
                target.visit(self)
        return False

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False


def _defined_name(stmt) -> str | None:
    """The private helper a top-level statement defines (``def _x`` or ``_X = ...``)."""
    name = None
    if isinstance(stmt, cst.FunctionDef):
        name = stmt.name.value
    elif isinstance(stmt, cst.SimpleStatementLine):
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            name = small.targets[0].target.value
        elif isinstance(small, cst.Import) and small.names[0].name.value == "math":
            name = "math"
    if name and (name == "math" or (name.startswith("_") and not name.startswith("__"))):
        return name
    return None


def prune_module(module: cst.Module) -> cst.Module:
    uses = []
    for stmt in module.body:
        visitor = _Uses()
        stmt.visit(visitor)
        uses.append(visitor.used)
    defined = [_defined_name(stmt) for stmt in module.body]
    needed = set().union(*(u for u, d in zip(uses, defined) if d is None))
    while True:
        grown = needed.union(*(u for u, d in zip(uses, defined) if d in needed))
        if grown == needed:
            break
        needed = grown
    body = [stmt for stmt, d in zip(module.body, defined) if d is None or d in needed]
    return module.with_changes(body=body)
