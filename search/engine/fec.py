"""Functional equivalence checking: the fingerprint of a program's behaviour, and the LRU
cache that maps fingerprints (and canonical hashes) to fitness.

FEC as the reference does it: train a program for the first few training examples and
validate on the first few validation examples (with the random-op seed fixed), hash the
recorded errors with the task index and the train budget, and look the hash up in an LRU
cache of per-task fitness.  A hit increments the entry's count; at ``forget_every`` hits the
entry is dropped, so noisy programs get re-evaluated now and then.

The cache is arrays and functions for numba (no Python objects), so the search loop can use
it per child:  keys / values / hit counts, a doubly linked LRU list and hash-chained buckets.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from .. import numba_cache  # noqa: F401  (numba's cache folder before our functions)

from azcompile.rng import mix64

FEC_SEED = 235732282          # the reference re-seeds the FEC random stream with this
EMPTY = -1
# state fields
_HEAD, _TAIL, _COUNT, _FREE = 0, 1, 2, 3


# An LRU cache as arrays: per slot its key, value and hit count, its neighbours on the recency
# list (prev: towards the most recent, next: towards the least), and the next slot on its
# bucket's chain (or on the free list); the first slot of each bucket; and
# state = (head, tail, count, first free slot).
LruCache = namedtuple("LruCache", "keys values hits prev next chain heads state")


def new_cache(capacity: int) -> LruCache:
    """An empty LRU cache holding at most ``capacity`` entries (capacity >= 1)."""
    capacity = max(int(capacity), 1)
    buckets = 1
    while buckets < 2 * capacity:
        buckets *= 2
    chain = np.arange(1, capacity + 1, dtype=np.int32)
    chain[-1] = EMPTY
    return LruCache(keys=np.zeros(capacity, dtype=np.uint64),
                    values=np.zeros(capacity, dtype=np.float64),
                    hits=np.zeros(capacity, dtype=np.int64),
                    prev=np.full(capacity, EMPTY, dtype=np.int32),
                    next=np.full(capacity, EMPTY, dtype=np.int32),
                    chain=chain,
                    heads=np.full(buckets, EMPTY, dtype=np.int32),
                    state=np.array([EMPTY, EMPTY, 0, 0], dtype=np.int64))


@njit(cache=True, inline="always")
def _bucket(cache, key):
    return int(key & np.uint64(cache.heads.shape[0] - 1))


@njit(cache=True)
def _find(cache, key):
    slot = cache.heads[_bucket(cache, key)]
    while slot != EMPTY:
        if cache.keys[slot] == key:
            return slot
        slot = cache.chain[slot]
    return EMPTY


@njit(cache=True)
def _unlink_lru(cache, slot):
    prev, nxt, state = cache.prev, cache.next, cache.state
    p, n = prev[slot], nxt[slot]
    if p != EMPTY:
        nxt[p] = n
    else:
        state[_HEAD] = n
    if n != EMPTY:
        prev[n] = p
    else:
        state[_TAIL] = p
    prev[slot] = EMPTY
    nxt[slot] = EMPTY


@njit(cache=True)
def _push_front(cache, slot):
    prev, nxt, state = cache.prev, cache.next, cache.state
    head = state[_HEAD]
    nxt[slot] = head
    prev[slot] = EMPTY
    if head != EMPTY:
        prev[head] = slot
    state[_HEAD] = slot
    if state[_TAIL] == EMPTY:
        state[_TAIL] = slot


@njit(cache=True)
def _remove(cache, slot):
    """Drop an entry: out of its bucket chain and the LRU list, onto the free list."""
    keys, chain, heads, state = cache.keys, cache.chain, cache.heads, cache.state
    b = _bucket(cache, keys[slot])
    cur = heads[b]
    before = EMPTY
    while cur != slot:
        before = cur
        cur = chain[cur]
    if before == EMPTY:
        heads[b] = chain[slot]
    else:
        chain[before] = chain[slot]
    _unlink_lru(cache, slot)
    chain[slot] = state[_FREE]
    state[_FREE] = slot
    state[_COUNT] -= 1


@njit(cache=True)
def lookup(cache, key, forget_every):
    """(found, value).  A hit becomes most recent and counts; at ``forget_every`` hits
    (0 = never) the entry is dropped after answering, as in the reference."""
    slot = _find(cache, key)
    if slot == EMPTY:
        return False, 0.0
    value = cache.values[slot]
    cache.hits[slot] += 1
    if forget_every > 0 and cache.hits[slot] >= forget_every:
        _remove(cache, slot)
    else:
        _unlink_lru(cache, slot)
        _push_front(cache, slot)
    return True, value


@njit(cache=True)
def insert(cache, key, value):
    """Insert or overwrite; evicts the least recently used entry when full."""
    slot = _find(cache, key)
    if slot != EMPTY:
        cache.values[slot] = value
        cache.hits[slot] = 1
        _unlink_lru(cache, slot)
        _push_front(cache, slot)
        return
    state = cache.state
    if state[_FREE] == EMPTY:
        _remove(cache, state[_TAIL])
    slot = state[_FREE]
    state[_FREE] = cache.chain[slot]
    cache.keys[slot] = key
    cache.values[slot] = value
    cache.hits[slot] = 1
    b = _bucket(cache, key)
    cache.chain[slot] = cache.heads[b]
    cache.heads[b] = slot
    _push_front(cache, slot)
    state[_COUNT] += 1


@njit(cache=True)
def size(cache):
    return cache.state[_COUNT]


@njit(cache=True)
def fingerprint(train_err, n_train, valid_err, n_valid, task_index, n_steps):
    """The reference's FEC key: errors (exact bits), task index, budget.

    Errors are absolute values, so -0.0 never occurs (the reference hashes them equal)."""
    h = np.uint64(42)
    train_bits = train_err.view(np.uint64)
    valid_bits = valid_err.view(np.uint64)
    for i in range(n_train):
        h = mix64(h ^ train_bits[i])
    for i in range(n_valid):
        h = mix64(h ^ valid_bits[i])
    h = mix64(h ^ np.uint64(task_index))
    return mix64(h ^ np.uint64(n_steps))
