"""Dead-assignment pruning (backward, through one function's straight-line body).

Guarantee: an assignment to a plain name is dropped only when no later statement reads
that name before it is assigned again (the final ``return`` counts as a read).  Loops and
element writes are kept whole: they count as reading every name they mention.
"""
from __future__ import annotations

import libcst as cst

from .nodes import names_in


def prune_dead_assignments(statements) -> list:
    live, kept = set(), []
    for stmt in reversed(statements):
        if isinstance(stmt, cst.For):
            live |= names_in(stmt)
            kept.append(stmt)
            continue
        small = stmt.body[0]
        if isinstance(small, cst.Assign) and isinstance(small.targets[0].target, cst.Name):
            name = small.targets[0].target.value
            if name not in live:
                continue
            live.discard(name)
            live |= names_in(small.value)
        else:
            live |= names_in(small)
        kept.append(stmt)
    return kept[::-1]
