"""The Wilcoxon signed-rank test, one-sided, for the funnel's promotion decisions.

Two candidates scored on the same tasks (and the same random-op draws) give paired values;
the test asks whether the leader's values are larger than the other's more often and by
more than chance would make them.  Zero differences are dropped (Wilcoxon's rule); tied
absolute differences share their mean rank.  The null distribution of the statistic is
computed exactly (a count over the 2^n sign patterns, by dynamic programming on doubled
ranks, which are integers even with ties) up to ``EXACT_MAX`` pairs, and by the normal
approximation with the tie correction beyond.  numpy only: scipy is not a dependency.
"""
from __future__ import annotations

import math

import numpy as np

EXACT_MAX = 60


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def wilcoxon_greater(a, b) -> float:
    """p-value of the one-sided signed-rank test that ``a`` exceeds ``b`` (paired).

    1.0 when no pair differs; NaN pairs count as the worst fitness (0)."""
    d = np.nan_to_num(np.asarray(a, float), nan=0.0) - np.nan_to_num(np.asarray(b, float), nan=0.0)
    d = d[d != 0]
    n = len(d)
    if n == 0:
        return 1.0
    ranks = _ranks(np.abs(d))
    w_plus = ranks[d > 0].sum()
    if n <= EXACT_MAX:
        return _exact_upper_tail(ranks, w_plus)
    mean = n * (n + 1) / 4
    _, counts = np.unique(ranks, return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - (counts ** 3 - counts).sum() / 48
    z = (w_plus - mean - 0.5) / math.sqrt(var)          # continuity-corrected
    return 0.5 * math.erfc(z / math.sqrt(2))


def _exact_upper_tail(ranks: np.ndarray, w_plus: float) -> float:
    """P(W+ >= w_plus) when each rank's sign is a fair coin."""
    doubled = np.rint(2 * ranks).astype(np.int64)
    ways = np.zeros(int(doubled.sum()) + 1)
    ways[0] = 1.0
    for r in doubled:
        ways[r:] = ways[r:] + ways[:-r]       # this rank's sign +: W+ grows by r
    target = int(np.rint(2 * w_plus))
    return float(ways[target:].sum() / ways.sum())
