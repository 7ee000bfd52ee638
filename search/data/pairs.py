"""Which classes a binary task uses and which projection seed: the reference's class pairs.

Without explicit classes the reference draws a pair per data seed with HashMix
(definitions.h) from the candidate pairs (all pairs, the 36 search pairs or the 9 held-out
pairs of task.proto, minus any held out), then a projection seed from the supported range.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np

from .datafiles import DatasetError

PAIR_SEED_SALT = 856572777          # HashMix(856572777, data_seed) picks the class pair
# task.proto's recommendation for meta-validation / test (T_select); the other 36 are T_search.
RECOMMENDED_HELD_OUT_PAIRS = ((4, 6), (3, 5), (8, 9), (3, 8), (0, 9), (2, 9), (1, 8), (3, 6),
                              (0, 5))

# --- HashMix (definitions.h) -----------------------------------------------------------------

_M64 = (1 << 64) - 1
# Bob Jenkins' 64-bit mix as the reference's HashCombine runs it: four rounds; per round the
# shifts of its a step (right), b step (left) and c step (right).
_MIX_SHIFTS = ((43, 9, 8), (38, 23, 5), (35, 49, 11), (12, 18, 22))


def _hash_combine(seed: int, value: int) -> int:
    a, b, c = 0x9E3779B9, seed, value     # std::hash of an unsigned integer is the identity
    for sa, sb, sc in _MIX_SHIFTS:
        a = ((a - b - c) & _M64) ^ (c >> sa)
        b = ((b - c - a) & _M64) ^ ((a << sb) & _M64)
        c = ((c - a - b) & _M64) ^ (b >> sc)
    return c


def hash_mix(*numbers: int) -> int:
    """The reference's ``HashMix`` of uint32 numbers (start 42, fold in each, keep 32 bits)."""
    seed = 42
    for n in numbers:
        seed = _hash_combine(seed, int(n) & 0xFFFFFFFF)
    return seed & 0xFFFFFFFF


def all_pairs(classes) -> list[tuple[int, int]]:
    return list(combinations(sorted(classes), 2))


def pair_split(classes=range(10), held_out=RECOMMENDED_HELD_OUT_PAIRS):
    """(search pairs, held-out pairs) of the classes: 36 / 9 for classes 0..9 and the
    recommended held-out set."""
    held = {tuple(sorted(p)) for p in held_out}
    pairs = all_pairs(classes)
    return [p for p in pairs if p not in held], [p for p in pairs if p in held]


def choose_pair(data_seed: int, candidates, min_seed: int, max_seed: int):
    """(positive, negative, projection seed) as the reference picks them when no classes are
    given: an MT19937 seeded with HashMix(856572777, data_seed) picks a candidate pair
    uniformly, then a seed in [min_seed, max_seed).  numpy draws the integers, not Abseil, so
    picks are distributed like the reference's, not identical to them."""
    rng = np.random.RandomState(hash_mix(PAIR_SEED_SALT, data_seed))
    pos, neg = candidates[rng.randint(len(candidates))]
    return pos, neg, int(rng.randint(min_seed, max_seed))


def fixed_seed(data_seed: int, min_seed: int, max_seed: int) -> int:
    return min_seed + data_seed % (max_seed - min_seed)


def candidate_pairs(kind, choice, held_out, classes) -> list[tuple[int, int]]:
    """The pairs a binary task may draw from: ``choice`` ('all', 'search', 'held_out' or a
    list of pairs) minus ``held_out``, of the classes present only."""
    # At most MAX_CLASSES classes (checked on loading): the pairs grow with their square.
    if choice == "all":
        pairs = all_pairs(classes)
    elif choice in ("search", "held_out"):
        search, held = pair_split(classes)
        pairs = search if choice == "search" else held
    else:
        pairs = choice
    present = set(classes)
    candidates = [p for p in pairs if p not in held_out and set(p) <= present]
    if not candidates:
        shown = classes if len(classes) <= 20 else f"{classes[:20]} and {len(classes) - 20} more"
        raise DatasetError(f"{kind}: no class pair left to choose from (pairs={choice!r:.200}, "
                           f"held_out_pairs={sorted(held_out)!s:.200}, classes present {shown}); "
                           "hold out fewer pairs")
    return candidates

