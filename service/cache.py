"""Bounded caches of Chroma rows that never change under their key.

A chunk id hashes (doc id, content hash, start, end) and an article record is
keyed here by (doc id, content hash), so a cached value can never be stale: an
edited article gets new chunk ids and a new hash, and misses. What can go is an
entry for a deleted article, and retrieval only asks for ids it just found in
the current index. Caching saves the two Chroma reads that dominated `/ask`
(≈ 6 of ≈ 20 ms at 100k chunks, docs/benchmarks.md) plus re-parsing the rows.

Hand-written (≈ 30 lines) rather than a dependency: we need a per-entry size
budget and a thread-safe batch lookup, and cachetools is not otherwise installed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """Least-recently-used entries are evicted once the summed ``size`` passes ``budget``."""

    def __init__(self, budget: int, size: Callable[[V], int] = lambda _: 1) -> None:
        self.budget = budget
        self._size = size
        self._items: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """(the cached values, the keys that missed, in order)."""
        found: dict[K, V] = {}
        missing: list[K] = []
        with self._lock:
            for key in keys:
                item = self._items.get(key)
                if item is None:
                    missing.append(key)
                else:
                    self._items.move_to_end(key)
                    found[key] = item[0]
            self.hits += len(found)
            self.misses += len(missing)
        return found, missing

    def put(self, key: K, value: V) -> None:
        """Store ``value``; a value bigger than the whole budget is not kept."""
        cost = self._size(value)
        if cost > self.budget:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._used -= old[1]
            self._items[key] = (value, cost)
            self._used += cost
            while self._used > self.budget:
                _, (_, dropped) = self._items.popitem(last=False)
                self._used -= dropped
