"""Processes starting together on one database (the workers of one `ledger serve`) all start.

Every start checks and creates its tables; run at the same moment on PostgreSQL, two of them
used to meet "tuple concurrently updated" on a DDL statement. `creation_lock` makes them take
turns (an advisory lock on PostgreSQL, a file lock on SQLite, where the library met
"Failed to record tracking for __migration__").
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings

STARTS = 6


def test_starts_at_the_same_moment_all_succeed(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    ready = threading.Barrier(STARTS)
    systems: list[LedgerSystem] = []
    errors: list[BaseException] = []

    def start() -> None:
        ready.wait()
        try:
            systems.append(bootstrap(settings, run_projections=False))
        except BaseException as e:
            errors.append(e)

    for _ in range(3):  # a fresh database first, then one its first starts already made
        threads = [threading.Thread(target=start) for _ in range(STARTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for system in systems:
            system.close()
        assert errors == []
        assert len(systems) == STARTS
        systems.clear()
