"""S1: how each query's latency grows with the store (10^4, 10^5, 10^6 sessions).

Every view query the API and the reaper use, and the command side's account load, timed on
stores of growing size (same seed shape: 10 sessions per user, 60% ended). The baseline of
each query is its own latency on the smallest store: the ratio is the growth, ideally ~1.
"""

from __future__ import annotations

import functools
import random
import sys
from collections.abc import Callable
from typing import Any

from bench.core import Row, Sizes, ms, percentile, time_each
from bench.infra import TENANT, database, human_bytes, settings, settle, store_size
from bench.seed import APPS, seed
from ledger.aggregates import account_uuid
from ledger.bootstrap import LedgerSystem, bootstrap

Query = Callable[[random.Random], object]


def _ask(query: Callable[[random.Random], object], rng: random.Random, _: int) -> object:
    """One timed call of `query` (for `time_each`)."""
    return query(rng)


def queries(system: LedgerSystem, sessions: int) -> dict[str, Query]:
    """The queries, each drawing its arguments from `rng` (users and sessions that exist)."""
    active, history, now = system.active, system.history, system.clock()
    users = max(1, sessions // 10)

    def user(rng: random.Random) -> str:
        return f"user-{rng.randrange(users)}"

    def session(rng: random.Random) -> str:
        return f"s-{rng.randrange(sessions)}"

    first = active.list_sessions(TENANT, now=now, limit=50)
    return {
        "active: user's sessions": lambda r: active.user_sessions(TENANT, user(r), now=now),
        "active: one session": lambda r: active.get(TENANT, session(r), now=now),
        "active: tenant list, page 1": lambda r: active.list_sessions(TENANT, now=now, limit=50),
        "active: tenant list, page 2": lambda r: active.list_sessions(
            TENANT, now=now, limit=50, cursor=first.next_cursor
        ),
        "active: list by application": lambda r: _by_app(system, r, now),
        "active: count by user prefix": lambda r: active.count_by_user(
            TENANT, now=now, prefix=f"user-{r.randrange(10)}", limit=100
        ),
        "active: due (reaper)": lambda r: active.due(now=now, limit=500),
        "history: user's sessions": lambda r: history.user_history(TENANT, user(r), limit=50),
        "history: one session": lambda r: history.get(TENANT, session(r)),
        "command side: load account": lambda r: system.ledger.repository.get(
            account_uuid(TENANT, user(r))
        ),
    }


def _by_app(system: LedgerSystem, rng: random.Random, now: Any) -> object:
    from ledger.projections.active_sessions import SessionFilter

    app = APPS[rng.randrange(len(APPS))]["id"]
    return system.active.list_sessions(
        TENANT, now=now, filters=SessionFilter(application_id=app), limit=50
    )


def measure(kind: str, sessions: int, repeats: int) -> tuple[dict[str, list[float]], str]:
    """Latencies of every query on a fresh store of `sessions` sessions."""
    with database(kind, f"s1_{sessions}") as url:
        system = bootstrap(settings(url, group_commit=False), run_projections=False)
        try:
            print(f"  seeding {sessions:,} sessions on {kind}...", file=sys.stderr, flush=True)
            seed(system.ledger, sessions=sessions, views=[system.active, system.history])
            settle(url)
            found: dict[str, list[float]] = {}
            for name, query in queries(system, sessions).items():
                op = functools.partial(_ask, query, random.Random(7))
                time_each(op, min(20, repeats))  # warm
                found[name] = time_each(op, repeats)
        finally:
            system.close()
        return found, human_bytes(store_size(url))


def s1(kind: str, sizes: Sizes) -> list[Row]:
    """S1 rows: one per query and size; baseline = the same query on the smallest store."""
    rows: list[Row] = []
    smallest: dict[str, float | None] = {}
    for sessions in sizes.s1_sizes:
        found, size = measure(kind, sessions, sizes.query_repeats)
        for name, latencies in found.items():
            p50 = ms(percentile(latencies, 50))
            smallest.setdefault(name, p50)
            rows.append(
                Row(
                    id="S1",
                    case=f"{kind}, {name}, {sessions:,} sessions",
                    metric="latency ms p50",
                    ledger=p50,
                    baseline=smallest[name],
                    baseline_name=f"the same query on {sizes.s1_sizes[0]:,} sessions",
                    higher_is_better=False,
                    p50_ms=p50,
                    p99_ms=ms(percentile(latencies, 99)),
                    store=size,
                    extra={"backend": kind, "query": name, "sessions": sessions},
                )
            )
    return rows
