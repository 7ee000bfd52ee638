"""Successive halving over the search tasks (Jamieson & Talwalkar), and Hyperband (Li et al.).

A bracket of settings is scored on the first few search tasks; the best 1/eta go on to eta
times as many tasks, and so on until the survivors have seen them all.  Tasks are nested
prefixes of one list with fixed random-op seeds, so a setting's score on a rung extends the
one it had on the rung before, and the mean over the first k tasks is an unbiased estimate
of the mean over all of them (the search tasks are independent draws).  Settings dropped
early are told their last rung's mean.

Hyperband hedges against halving too early: its brackets start on ever more tasks with
ever fewer settings (the last one is plain evaluation), taken in turn.
"""
from __future__ import annotations

import itertools
import math


def rung_tasks(n_tasks: int, eta: int) -> list[int]:
    """How many tasks each rung scores on, rising by ``eta`` up to all of them: 10 tasks,
    eta 3 -> [1, 3, 10]; 20 tasks -> [2, 7, 20]."""
    rungs = int(math.floor(math.log(n_tasks) / math.log(eta) + 1e-9))
    counts = []
    for r in range(rungs, -1, -1):
        k = max(1, int(round(n_tasks / eta ** r)))
        if not counts or k > counts[-1]:
            counts.append(k)
    counts[-1] = n_tasks
    return counts


def bracket_size(n_tasks: int, eta: int) -> int:
    """Settings per bracket: one survivor reaches the last rung."""
    return eta ** (len(rung_tasks(n_tasks, eta)) - 1)


def schedule(n_tasks: int, eta: int, hyperband: bool, size: int | None = None):
    """Brackets without end, as (settings, rungs): successive halving's one bracket, or
    Hyperband's brackets in turn.  ``size`` fixes the settings per bracket (CMA-ES tells
    whole generations)."""
    counts = rung_tasks(n_tasks, eta)
    top = len(counts) - 1
    if not hyperband:
        return itertools.repeat((size or bracket_size(n_tasks, eta), counts))
    brackets = [(size or math.ceil((top + 1) / (s + 1) * eta ** s), counts[top - s:])
                for s in range(top, -1, -1)]
    return itertools.cycle(brackets)


def run_bracket(trials: list[int], counts: list[int], eta: int, score) -> list[float]:
    """Successive halving of ``trials`` (ids) over the rungs ``counts``; ``score(id, k)`` is
    a trial's fitness on the first ``k`` tasks.  Returns each trial's last score."""
    last = {}
    alive = list(trials)
    for r, k in enumerate(counts):
        for t in alive:
            last[t] = score(t, k)
        if r + 1 < len(counts):
            keep = max(1, math.ceil(len(alive) / eta))
            alive = sorted(alive, key=lambda t: (-last[t], t))[:keep]
    return [last[t] for t in trials]
