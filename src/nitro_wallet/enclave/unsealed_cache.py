"""The keyrings' LRU of unsealed keys, keyed by the whole sealed form: a request that changes any field of a
sealed key (id, address or pubkey, policy, data key ref, blob) misses it and is unsealed and checked again.
At most `size` entries; thread-safe (the keyrings run on the event loop and in worker threads)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Sealed = TypeVar("Sealed", bound=Hashable)
Unsealed = TypeVar("Unsealed")


class UnsealedCache(Generic[Sealed, Unsealed]):
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Sealed, Unsealed] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sealed: object) -> bool:
        return sealed in self._entries

    def values(self) -> list[Unsealed]:
        """The cached entries, oldest first (a snapshot)."""
        with self._lock:
            return list(self._entries.values())

    def __repr__(self) -> str:
        return f"UnsealedCache({len(self._entries)} of {self._size})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("unsealed keys cannot be pickled")

    def get_or_unseal(self, sealed: Sealed, unseal: Callable[[Sealed], Unsealed]) -> Unsealed:
        """The cached entry, else `unseal(sealed)`, kept as the newest (the oldest goes beyond `size`)."""
        with self._lock:
            entry = self._entries.get(sealed)
            if entry is not None:
                self._entries.move_to_end(sealed)
                return entry
        entry = unseal(sealed)  # outside the lock: unsealing takes tens of microseconds
        with self._lock:
            self._entries[sealed] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry
