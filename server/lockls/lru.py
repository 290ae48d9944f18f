"""A bounded map that forgets the least recently used entry: every cache in lockls is one.

Bounded by a number of entries and, for caches whose entries differ in size, by their
weight (about their bytes, as `weigh` estimates them). A cache keyed by a text keys by
its digest (`text_key`): keyed by the text itself it would keep every version typed.

Safe to share between threads (the language server's event loop and its workspace
index analyse at the same time): the map is changed under a lock; a value is made
outside it, so two threads missing the same key at once may both make it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, Optional, TypeVar

V = TypeVar("V")


def text_key(text: bytes) -> bytes:
    """What stands for `text` in a cache's key: its digest (a collision would take
    2**80 texts)."""
    return hashlib.blake2b(text, digest_size=20).digest()


class Lru(Generic[V]):
    def __init__(self, capacity: int, max_weight: Optional[int] = None,
                 weigh: Optional[Callable[[Hashable, V], int]] = None):
        self.capacity = capacity
        self.max_weight = max_weight  # with `weigh`: the most the entries may weigh together
        self._weigh = weigh
        self.weight = 0
        self._entries: OrderedDict = OrderedDict()
        self._weights: dict = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value of `key`, made (and kept) on a miss."""
        with self._lock:
            try:
                value = self._entries[key]
            except KeyError:
                pass
            else:
                self._entries.move_to_end(key)
                return value
        value = make()
        weight = self._weigh(key, value) if self._weigh is not None else 0
        with self._lock:
            if key in self._entries:  # (made by another thread meanwhile)
                self.weight -= self._weights.pop(key, 0)
            self._entries[key] = value
            if weight:
                self._weights[key] = weight
                self.weight += weight
            while len(self._entries) > self.capacity or (
                    self.max_weight is not None and self.weight > self.max_weight and len(self._entries) > 1):
                old, _ = self._entries.popitem(last=False)
                self.weight -= self._weights.pop(old, 0)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weights.clear()
            self.weight = 0
