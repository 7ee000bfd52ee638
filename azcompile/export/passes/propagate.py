"""Constant and copy propagation (forward, through one function's straight-line body).

Guarantee: a name is replaced only by what it certainly holds at that point: a literal,
or (for scalars) another scalar name neither has been reassigned since.  A fact dies when
either name is assigned again; a loop kills the facts about every name it assigns.
Right-hand sides are folded (``ConstantFolding``) as they are substituted, so new
constants propagate on.
"""
from __future__ import annotations

import libcst as cst

from .fold import ConstantFolding
from .nodes import Substitute, assigned_in, constant_value, name_of, names_in


def _kill(env: dict, name: str) -> None:
    env.pop(name, None)
    for key in [k for k, v in env.items() if name in names_in(v)]:
        del env[key]


def propagate(statements, env: dict, fold: ConstantFolding, scalars: set) -> list:
    """The statements with known constants and copies substituted and folded; ``env``
    (name -> node) holds the facts at the start and is updated in place."""
    out = []
    for stmt in statements:
        if isinstance(stmt, cst.For):
            for name in assigned_in(stmt):
                _kill(env, name)
            out.append(stmt.visit(Substitute(dict(env))))
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Assign):
            small = _assignment(small, env, fold, scalars)
        elif isinstance(small, cst.Return) and small.value is not None:
            small = small.with_changes(value=small.value.visit(Substitute(env)))
        out.append(stmt.with_changes(body=[small]))
    return out


def _assignment(small: cst.Assign, env: dict, fold: ConstantFolding, scalars: set) -> cst.Assign:
    value = small.value.visit(Substitute(env)).visit(fold)
    target = small.targets[0].target
    if isinstance(target, cst.Name):
        _kill(env, target.value)
        if constant_value(value) is not None or (
                target.value in scalars and name_of(value) in scalars):
            env[target.value] = value
    else:  # an element write: only its indices are substituted
        target = target.with_changes(slice=[
            e.visit(Substitute(env)).visit(fold) for e in target.slice])
    return small.with_changes(targets=[small.targets[0].with_changes(target=target)],
                              value=value)
