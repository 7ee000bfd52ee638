"""In-memory caches of loaded data sources and prepared splits.

The tasks of a run share a few sources (raw CIFAR-10 alone is 150 MB) and often the same
prepared splits (tasks that differ only in num_train_examples), so both are kept, least
recently used first out.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable


class LruCache:
    """At most ``limit`` values by key; ``get`` makes a missing value and keeps it."""

    def __init__(self, limit: int):
        self.limit = limit
        self._values: OrderedDict = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], object]):
        if key in self._values:
            self._values.move_to_end(key)
            return self._values[key]
        value = make()
        self._values[key] = value
        while len(self._values) > self.limit:
            self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)


SOURCES = LruCache(3)        # raw CIFAR-10 alone is 150 MB: keep only the recent few
PREPARED = LruCache(512)     # a prepared 10k x 16 task is ~1.3 MB


def clear() -> None:
    """Forget loaded sources and prepared splits (e.g. after files changed on disk)."""
    SOURCES.clear()
    PREPARED.clear()
