"""Seeded stores shared by the benchmarks of one run (P1 and R1 read the same log).

A store is seeded once per (database kind, size) and dropped when the run ends.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass

from bench.infra import database, settings, settle
from bench.seed import Seeded, seed
from ledger.bootstrap import bootstrap
from ledger.persistence.url import DatabaseURL

HEAVY_EVENTS = 1000


@dataclass
class Store:
    """A database holding a seeded log (views empty unless a benchmark filled them)."""

    url: DatabaseURL
    seeded: Seeded
    views_filled: bool = False


class Stores:
    """Creates seeded stores on demand and removes them all at the end of the run."""

    def __init__(self) -> None:
        self._stack = contextlib.ExitStack()
        self._stores: dict[tuple[str, int], Store] = {}

    def log(self, kind: str, events: int) -> Store:
        """A store with about `events` events, one user having about 1,000 of them."""
        key = (kind, events)
        if key not in self._stores:
            url = self._stack.enter_context(database(kind, f"log{events}"))
            system = bootstrap(settings(url, group_commit=False), run_projections=False)
            try:
                print(f"  seeding {events:,} events on {kind}...", file=sys.stderr, flush=True)
                seeded = seed(system.ledger, events=events, heavy_events=HEAVY_EVENTS)
            finally:
                system.close()
            settle(url)
            print(
                f"  seeded {seeded.events:,} events in {seeded.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            self._stores[key] = Store(url, seeded)
        return self._stores[key]

    def close(self) -> None:
        """Drop every store."""
        self._stack.close()
        self._stores.clear()
