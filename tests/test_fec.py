"""The FEC / fitness LRU cache and the FEC fingerprint (reference_spec.md section 8).

The cache is checked against a pure-Python model built on OrderedDict, both on hand-written
scenarios and on thousands of random operations.
"""
from __future__ import annotations

import collections
import random

import numpy as np
import pytest

from azcompile.search.engine import fec


class ModelLRU:
    """The reference's FECCache semantics: most recent first; a hit counts and moves to the
    front; at ``forget_every`` counts (0 = never) the entry is dropped after answering."""

    def __init__(self, capacity, forget_every):
        self.capacity = capacity
        self.forget_every = forget_every
        self.d = collections.OrderedDict()   # key -> [value, count]; last = most recent

    def lookup(self, key):
        if key not in self.d:
            return False, 0.0
        entry = self.d[key]
        entry[1] += 1
        if self.forget_every and entry[1] >= self.forget_every:
            del self.d[key]
        else:
            self.d.move_to_end(key)
        return True, entry[0]

    def insert(self, key, value):
        if key in self.d:
            self.d[key] = [value, 1]
            self.d.move_to_end(key)
            return
        if len(self.d) >= self.capacity:
            self.d.popitem(last=False)
        self.d[key] = [value, 1]


def lookup(cache, key, forget_every=0):
    found, value = fec.lookup(cache, np.uint64(key), forget_every)
    return bool(found), float(value)


def insert(cache, key, value):
    fec.insert(cache, np.uint64(key), float(value))


def lru_order(cache):
    """Keys from most to least recently used, walking the linked list; checks its links."""
    keys, _, _, prev, nxt, _, _, state = cache
    out = []
    slot = int(state[0])
    last = -1
    while slot != -1:
        assert int(prev[slot]) == last
        out.append(int(keys[slot]))
        last, slot = slot, int(nxt[slot])
        assert len(out) <= len(keys)
    assert int(state[1]) == last          # tail
    assert len(out) == int(state[2]) == fec.size(cache)
    return out


def hits_of(cache, key):
    """The hit count of a live entry (found through the LRU list, not stale slots)."""
    keys, _, hits, _, nxt, _, _, state = cache
    lru_order(cache)
    slot = int(state[0])
    while slot != -1:
        if int(keys[slot]) == key:
            return int(hits[slot])
        slot = int(nxt[slot])
    return None


# ---- LRU semantics ------------------------------------------------------------------------

def test_empty_cache_misses():
    cache = fec.new_cache(4)
    assert lookup(cache, 123) == (False, 0.0)
    assert fec.size(cache) == 0 and lru_order(cache) == []


def test_capacity_and_least_recently_used_eviction():
    cache = fec.new_cache(3)
    for k in (1, 2, 3):
        insert(cache, k, k / 10)
    assert lru_order(cache) == [3, 2, 1]
    insert(cache, 4, 0.4)                       # evicts 1, the least recently used
    assert lru_order(cache) == [4, 3, 2]
    assert lookup(cache, 1) == (False, 0.0)
    assert lookup(cache, 2) == (True, 0.2)      # a hit moves 2 to the front
    assert lru_order(cache) == [2, 4, 3]
    insert(cache, 5, 0.5)                       # now 3 is the least recently used
    assert lru_order(cache) == [5, 2, 4]
    assert [lookup(cache, k)[0] for k in (3, 4, 5, 2)] == [False, True, True, True]
    assert fec.size(cache) == 3


def test_capacity_one():
    cache = fec.new_cache(1)
    insert(cache, 7, 0.7)
    insert(cache, 8, 0.8)
    assert lookup(cache, 7) == (False, 0.0) and lookup(cache, 8) == (True, 0.8)
    assert fec.size(cache) == 1


def test_hit_counts_start_at_one_and_forget_at_forget_every():
    """Insertion counts 1; each hit adds 1; at forget_every the entry is dropped (so with the
    default 100 an entry answers 99 hits and the next occurrence is re-evaluated)."""
    cache = fec.new_cache(10)
    insert(cache, 42, 0.5)
    assert hits_of(cache, 42) == 1
    for n in range(1, 99):
        assert lookup(cache, 42, 100) == (True, 0.5)
        assert hits_of(cache, 42) == n + 1
    assert lookup(cache, 42, 100) == (True, 0.5)     # 99th hit: answered, then dropped
    assert 42 not in lru_order(cache)
    assert lookup(cache, 42, 100) == (False, 0.0)


@pytest.mark.parametrize("forget_every, answered", [(2, 1), (3, 2), (5, 4)])
def test_small_forget_every(forget_every, answered):
    cache = fec.new_cache(10)
    insert(cache, 9, 0.9)
    insert(cache, 10, 1.0)
    results = [lookup(cache, 9, forget_every)[0] for _ in range(answered + 2)]
    assert results == [True] * answered + [False, False]
    assert lru_order(cache) == [10]
    assert fec.size(cache) == 1


def test_forget_every_zero_never_forgets():
    cache = fec.new_cache(4)
    insert(cache, 5, 0.25)
    for _ in range(1000):
        assert lookup(cache, 5, 0) == (True, 0.25)
    assert hits_of(cache, 5) == 1001


def test_overwrite_replaces_value_resets_count_and_moves_to_front():
    cache = fec.new_cache(3)
    for k in (1, 2, 3):
        insert(cache, k, k)
    lookup(cache, 1, 0)
    lookup(cache, 1, 0)
    assert hits_of(cache, 1) == 3
    insert(cache, 2, 20.0)
    assert lru_order(cache) == [2, 1, 3] and fec.size(cache) == 3
    assert hits_of(cache, 2) == 1
    assert lookup(cache, 2, 0) == (True, 20.0)
    insert(cache, 4, 4.0)      # the overwrite did not take a slot: 3 is evicted, not 1
    assert lru_order(cache) == [4, 2, 1]


def test_freed_slots_are_reused():
    cache = fec.new_cache(2)
    for round_ in range(50):
        insert(cache, 1000 + round_, round_)
        assert lookup(cache, 1000 + round_, 2) == (True, float(round_))   # dropped again
    assert fec.size(cache) == 0
    insert(cache, 1, 1.0)
    insert(cache, 2, 2.0)
    assert lru_order(cache) == [2, 1]


def test_colliding_buckets():
    """Keys equal in their low bits share a bucket chain; removal from any chain position."""
    cache = fec.new_cache(4)            # 8 buckets
    keys = [3 + (k << 20) for k in range(4)]
    for k in keys:
        insert(cache, k, k)
    for k in (keys[1], keys[3], keys[0], keys[2]):
        assert lookup(cache, k, 2) == (True, float(k))   # each one dropped from its chain
        assert lookup(cache, k, 2) == (False, 0.0)
    assert fec.size(cache) == 0
    insert(cache, keys[2], 1.5)
    assert lookup(cache, keys[2]) == (True, 1.5)


def test_extreme_keys_and_values():
    cache = fec.new_cache(4)
    top = (1 << 64) - 1
    insert(cache, 0, -0.0)
    insert(cache, top, np.inf)
    insert(cache, 1, np.nan)
    assert lookup(cache, 0)[0] and np.signbit(lookup(cache, 0)[1])
    assert lookup(cache, top) == (True, np.inf)
    found, value = lookup(cache, 1)
    assert found and np.isnan(value)


@pytest.mark.parametrize("capacity, key_space, forget_every, seed", [
    (1, 4, 0, 1), (5, 12, 0, 2), (8, 20, 3, 3), (16, 40, 100, 4), (50, 60, 2, 5),
    (7, 1000, 0, 6), (33, 70, 7, 7)])
def test_differential_against_ordereddict_model(capacity, key_space, forget_every, seed):
    rnd = random.Random(seed)
    cache = fec.new_cache(capacity)
    model = ModelLRU(capacity, forget_every)
    # keys that share low bits with one another, so bucket chains get long
    keys = [rnd.getrandbits(64) & ~0xF | (i % 3) for i in range(key_space)]
    for step in range(4000):
        key = rnd.choice(keys)
        if rnd.random() < 0.45:
            value = rnd.random()
            insert(cache, key, value)
            model.insert(key, value)
        else:
            assert lookup(cache, key, forget_every) == model.lookup(key), step
        if step % 97 == 0 or step > 3950:
            assert lru_order(cache) == list(reversed(model.d)), step
            for k, (v, count) in model.d.items():
                assert hits_of(cache, k) == count
    assert fec.size(cache) == len(model.d)


# ---- the fingerprint (fec_hashing) --------------------------------------------------------------

def fp(train, valid, task=0, steps=100, n_train=None, n_valid=None):
    tr = np.zeros(100)
    va = np.zeros(100)
    tr[: len(train)] = train
    va[: len(valid)] = valid
    return int(fec.fingerprint(tr, len(train) if n_train is None else n_train, va,
                               len(valid) if n_valid is None else n_valid, task, steps))


def test_fingerprint_is_deterministic():
    assert fp([0.1, 0.2], [0.3]) == fp([0.1, 0.2], [0.3])


@pytest.mark.parametrize("a, b", [(0.0, 0.0001), (0.6, 0.601), (1.0, np.nextafter(1.0, 2.0)),
                                  (0.0, np.inf), (1e-300, 0.0)])
def test_fingerprint_sensitive_to_every_bit(a, b):
    """No rounding: the reference's hashing test says 0.0 vs 0.0001 and 0.6 vs 0.601 differ."""
    for where in range(3):
        tr = [0.5, 0.25, 0.125]
        va = [0.5, 0.25, 0.125]
        tr2, va2 = list(tr), list(va)
        tr[where], tr2[where] = a, b
        assert fp(tr, va) != fp(tr2, va)
        va[where], va2[where] = a, b
        assert fp(tr2, va) != fp(tr2, va2)


def test_fingerprint_task_index_and_budget_matter():
    base = fp([0.1, 0.2], [0.3, 0.4], task=0, steps=100)
    assert base != fp([0.1, 0.2], [0.3, 0.4], task=1, steps=100)
    assert base != fp([0.1, 0.2], [0.3, 0.4], task=0, steps=101)
    assert base != fp([0.1, 0.2], [0.3, 0.4], task=0, steps=0)
    assert fp([], [], task=3, steps=0) != fp([], [], task=0, steps=3)


def test_fingerprint_order_and_split_matter():
    assert fp([0.1, 0.2], [0.3]) != fp([0.2, 0.1], [0.3])
    assert fp([0.1, 0.2], [0.3]) != fp([0.1, 0.2], [0.3, 0.3])
    # (like the reference, training then validation errors are one stream: no separator)
    # a program stopped early has fewer recorded errors
    assert fp([0.1, 0.2], [0.3]) != fp([0.1, 0.2], [])


def test_fingerprint_reads_only_the_recorded_errors():
    tr = np.zeros(100)
    va = np.zeros(100)
    tr[:3] = (0.1, 0.2, 0.3)
    va[:2] = (0.4, 0.5)
    h = fec.fingerprint(tr, 3, va, 2, 0, 10)
    tr[3:] = 7.0          # stale values beyond the counts must not matter
    va[2:] = 9.0
    assert fec.fingerprint(tr, 3, va, 2, 0, 10) == h


def test_fingerprint_few_collisions():
    rnd = random.Random(0)
    seen = {fp([rnd.random() for _ in range(10)], [rnd.random() for _ in range(10)], task=t)
            for t in range(3) for _ in range(2000)}
    assert len(seen) == 6000
