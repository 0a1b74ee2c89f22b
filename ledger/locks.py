"""Per-key locks, so commands on the same account in one process queue instead of conflicting.

Optimistic concurrency still guards against other processes; this only removes needless
conflicts (and retries) between threads of one process.
Tests: tests/integration/test_concurrency.py.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class KeyedLocks:
    """A lock per key, created on demand and dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Hashable | None) -> Iterator[None]:
        """Hold the lock of `key` (no lock at all for None)."""
        if key is None:
            yield
            return
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
