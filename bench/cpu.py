"""C1: CPU per command, measured so that a busy machine hardly moves it.

The process's own CPU (`getrusage`: user + system, every thread of it, the group committer's
and the pool's included) over blocks of N commands, the lowest of three blocks: waiting for
the database or for a core costs no CPU, so other people's load changes the figure far less
than it changes throughput. Cases, in one process on one database: the ledger's start,
activity, logout, and activity through `SessionLedger.batch` (1,000 per transaction, the
`POST /v1/events` path); the plain `eventsourcing` path (one aggregate created and saved per
command with the library's own recorder and transcoder); a raw single-row INSERT+COMMIT.
The database server's CPU is not in these figures (L1 reports it).
"""

from __future__ import annotations

import functools
import resource
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from bench import raw
from bench.core import Row, Sizes
from bench.infra import TENANT, database, settings
from bench.seed import AGENT, APPS
from bench.writes import sample_state
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.persistence.url import DatabaseURL

BATCH = 1000


def cpu() -> float:
    """CPU seconds of this process so far (user + system, all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def per_op(run: Callable[[int], Any], n: int, *, repeats: int = 3, items: int = 1) -> float:
    """Lowest CPU µs per item over `repeats` blocks of `run(block)` (n calls of `items`)."""
    best = float("inf")
    for block in range(repeats):
        began = cpu()
        run(block)
        best = min(best, (cpu() - began) / (n * items))
    return best * 1e6


class PlainSession(Aggregate):
    """The plain library's aggregate: a start, with the same fields as the ledger's."""

    def __init__(self, user_id: str, ip: str, user_agent: str, application: dict[str, str],
                 auth_methods: list[str]) -> None:  # fmt: skip
        self.user_id, self.ip, self.user_agent = user_id, ip, user_agent
        self.application, self.auth_methods = application, auth_methods


def plain_app(url: DatabaseURL, *, pool_size: int = 2) -> Application[Any]:
    """A plain library `Application` on `url`: its own recorders and JSON transcoder."""
    env = {k: v for k, v in url.library_env(pool_size=pool_size).items()
           if k != "APPLICATION_RECORDER_TOPIC"}  # fmt: skip
    env["CREATE_TABLE"] = "y"
    if url.is_postgres:
        env["POSTGRES_SCHEMA"] = "public"
    return Application(env=env)


def plain_library(url: DatabaseURL, n: int) -> float:
    """One `PlainSession` created and saved per command, the library's own persistence."""
    app = plain_app(url)

    def block(_: int) -> None:
        for _ in range(n):
            app.save(PlainSession("user-1", "198.51.100.7", AGENT, APPS[0], ["pwd"]))

    try:
        return per_op(block, n)
    finally:
        app.close()


def ledger_cases(system: LedgerSystem, n: int) -> dict[str, float]:
    """CPU µs per command of each kind on this ledger (group commit, no projections)."""
    ledger, clock = system.ledger, system.clock
    run = uuid.uuid4().hex[:6]

    def sid(b: int, i: int) -> str:
        return f"c1-{run}-{b}-{i}"

    def starts(block: int) -> None:
        for i in range(n):
            ledger.start_session(tenant=TENANT, user_id=f"user-{i % 500}", session_id=sid(block, i),
                                 ip="198.51.100.7", user_agent=AGENT, application=APPS[i % 20],
                                 auth_methods=["pwd"])  # fmt: skip

    out = {"start": per_op(starts, n)}

    def late() -> datetime:
        return clock() + timedelta(seconds=0)

    out["activity"] = per_op(
        lambda b: [ledger.record_activity(tenant=TENANT, session_id=sid(b, i), at=late(),
                                          ip="198.51.100.8") for i in range(n)], n)  # fmt: skip

    def batched(block: int) -> None:
        for first in range(0, n, BATCH):
            ledger.batch([
                functools.partial(ledger.record_activity, tenant=TENANT,
                                  session_id=sid(block, i), ip="198.51.100.9")
                for i in range(first, min(n, first + BATCH))
            ])  # fmt: skip

    out["activity, batched"] = per_op(batched, n)
    out["logout"] = per_op(
        lambda b: [ledger.terminate_session(tenant=TENANT, session_id=sid(b, i), reason="logout",
                                            actor="idp") for i in range(n)], n)  # fmt: skip
    return out


def raw_insert(url: DatabaseURL, state: bytes, n: int) -> float:
    """Client CPU µs of one raw single-row INSERT+COMMIT (prepared, autocommit)."""
    raw.create_table(url)
    conn: Any = raw.pg_connect(url, autocommit=True) if url.is_postgres else raw.sqlite_connect(url)
    mark = "%s" if url.is_postgres else "?"
    sql = (f"INSERT INTO raw_events (originator_id, originator_version, topic, state)"
           f" VALUES ({mark}, 1, {mark}, {mark})")  # fmt: skip
    key: Callable[[], Any] = uuid.uuid4 if url.is_postgres else (lambda: uuid.uuid4().hex)
    kw = {"prepare": True} if url.is_postgres else {}

    def block(_: int) -> None:
        for _ in range(n):
            conn.execute(sql, (key(), raw.TOPIC, state), **kw)

    try:
        return per_op(block, n)
    finally:
        conn.close()


def c1(kind: str, sizes: Sizes) -> list[Row]:
    """C1: CPU per command of each kind, the plain library and a raw commit beside them."""
    n = 2000 if sizes.mode == "quick" else 10_000
    with database(kind, "c1") as url:
        system = bootstrap(settings(url, activity_granularity_s=0), run_projections=False)
        try:
            cases = ledger_cases(system, n)
            state = sample_state(system)
        finally:
            system.close()
        plain = plain_library(url, n)
        base = raw_insert(url, state, n)
    rows = [
        Row(id="C1", case=f"{kind}, {name}", metric="CPU µs/command", ledger=round(us, 1),
            baseline=round(base, 1), baseline_name="raw INSERT+COMMIT (client CPU µs/row)",
            higher_is_better=False,
            notes=f"lowest of 3 blocks of {n:,}; plain eventsourcing create+save: {plain:.0f} µs")
        for name, us in cases.items()
    ]  # fmt: skip
    rows.append(Row(id="C1", case=f"{kind}, plain eventsourcing (create + save)",
                    metric="CPU µs/command", ledger=round(plain, 1), baseline=round(base, 1),
                    baseline_name="raw INSERT+COMMIT (client CPU µs/row)", higher_is_better=False,
                    notes="one aggregate created and saved per command, the library's own"
                          " recorder and JSON transcoder"))  # fmt: skip
    return rows
