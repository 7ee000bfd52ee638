"""The one-sided Wilcoxon signed-rank test of the selection funnel, against a brute-force
enumeration of its null distribution."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from azcompile.search.run.paired_test import EXACT_MAX, _ranks, wilcoxon_greater


def brute_force_p(a, b) -> float:
    """P(W+ >= observed) over all 2^n sign patterns of the non-zero differences."""
    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[d != 0]
    ranks = _ranks(np.abs(d))
    observed = ranks[d > 0].sum()
    totals = [sum(r for r, s in zip(ranks, signs) if s)
              for signs in itertools.product((0, 1), repeat=len(d))]
    return float(np.mean([t >= observed - 1e-9 for t in totals]))


@pytest.mark.parametrize("seed", range(6))
def test_exact_p_values_match_enumeration_with_ties_and_zeros(seed):
    rng = np.random.default_rng(seed)
    n = 6 + seed
    a = np.round(rng.normal(0.3, 1.0, n), 1)        # rounding makes ties and zero differences
    b = np.round(rng.normal(0.0, 1.0, n), 1)
    assert wilcoxon_greater(a, b) == pytest.approx(brute_force_p(a, b), abs=1e-12)


def test_textbook_values():
    assert wilcoxon_greater([1, 2, 3, 4, 5], [0] * 5) == pytest.approx(1 / 32)
    assert wilcoxon_greater([0] * 5, [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert wilcoxon_greater([1, 1, 1], [1, 1, 1]) == 1.0          # nothing differs
    assert wilcoxon_greater([np.nan, 1.0], [0.5, 0.5]) == pytest.approx(0.75)  # NaN is 0


def test_large_samples_use_the_normal_approximation_consistently():
    rng = np.random.default_rng(1)
    n = EXACT_MAX + 40
    b = rng.normal(0, 1, n)
    assert wilcoxon_greater(b + 0.5, b + rng.normal(0, 1, n)) < 0.01
    assert wilcoxon_greater(b, b + 0.5 + rng.normal(0, 0.1, n)) > 0.99
    p = wilcoxon_greater(rng.normal(0, 1, n), rng.normal(0, 1, n))
    assert 0.0 < p < 1.0
