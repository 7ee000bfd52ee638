"""Source-to-source simplification of the generated code, one pass per module.

Inside each component function (``simplify_function`` runs them): ``propagate`` (constants
and copies, with ``fold``'s ``ConstantFolding``), then ``dead_code``; then ``rename`` and,
for Learn, ``learning_rate``.  On the assembled module: ``module_pruning``.  Every pass
keeps the numbers the module computes bit for bit.
"""
from __future__ import annotations

import libcst as cst

from .dead_code import prune_dead_assignments
from .fold import ConstantFolding
from .learning_rate import hoist_learning_rate
from .module_pruning import prune_module
from .nodes import constant_value, is_docstring, returned_values
from .propagate import propagate
from .rename import Rename

__all__ = ["ConstantFolding", "Rename", "constant_value", "hoist_learning_rate",
           "prune_dead_assignments", "prune_module", "propagate", "returned_values",
           "simplify_function", "simplify_source"]


def simplify_function(func: cst.FunctionDef, env: dict, scalars: set) -> cst.FunctionDef:
    """Propagate, fold and prune inside one generated component function.  ``env``: what
    names certainly hold on entry (name -> node); ``scalars``: the names of scalars."""
    fold = ConstantFolding(scalars)
    body = list(func.body.body)
    doc, body = ([body[0]], body[1:]) if is_docstring(body[0]) else ([], body)
    for _ in range(2):  # identities found in the first round expose new copies
        body = prune_dead_assignments(propagate(body, dict(env), fold, scalars))
    return func.with_changes(body=func.body.with_changes(body=doc + body))


def simplify_source(source: str, env: dict, scalars: set) -> cst.FunctionDef:
    """``simplify_function`` on the one function defined in ``source``."""
    return simplify_function(cst.parse_module(source).body[0], env, scalars)
