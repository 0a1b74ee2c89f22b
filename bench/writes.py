"""W1, W2, W3: the command side against raw commits on the same database.

W1 one client starting sessions; W2 16 and 64 client threads over `SessionLedger` with group
commit (the service default), against raw single-row commits at the same concurrency and the
library's plain one-save-per-command, and the same threads split over two processes
(bench/procs.py); W3 a password reset that ends 100 sessions.
Projections do not run in the measured process (in production `ledger project` runs them).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from bench import raw
from bench.core import Row, Sizes, Throughput, ms, percentile, run_clients
from bench.infra import TENANT, database, human_bytes, settings, store_size
from bench.seed import AGENT, APPS, seed
from ledger.aggregates import Session
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.persistence.url import DatabaseURL

USERS = 10_000
W2_CLIENTS = (16, 64)


def sample_state(system: LedgerSystem) -> bytes:
    """The stored state of a real `Session.Started` event (the raw rows carry as much)."""
    session = Session(
        tenant=TENANT, session_id="sample-session-id-0123456789", user_id="user-1234",
        at=system.clock(), ip="198.51.100.7", user_agent=AGENT, application=APPS[0],
        auth_methods=["pwd"], idle_timeout_s=1800, max_lifetime_s=36000,
    )  # fmt: skip
    event = session.collect_events()[0]
    return bytes(system.ledger.mapper.to_stored_event(event).state)


def start_op(system: LedgerSystem) -> Callable[[int, int], object]:
    """One start-session command per call, with an IdP session id, users from a pool."""
    ledger = system.ledger
    run = uuid.uuid4().hex[:8]

    def op(client: int, n: int) -> object:
        user = (client * 7919 + n * 104_729) % USERS
        return ledger.start_session(
            tenant=TENANT, user_id=f"user-{user}", session_id=f"idp-{run}-{client}-{n}",
            ip="198.51.100.7", user_agent=AGENT, application=APPS[user % len(APPS)],
            auth_methods=["pwd"],
        )  # fmt: skip

    return op


def ledger_starts(
    url: DatabaseURL, *, group_commit: bool, clients: int, sizes: Sizes
) -> tuple[Throughput, dict[str, Any]]:
    """Start-session throughput of a ledger on `url` (no projections in this process)."""
    system = bootstrap(settings(url, group_commit=group_commit), run_projections=False)
    try:
        result = run_clients(
            start_op(system), clients=clients, seconds=sizes.seconds, warmup=sizes.warmup
        )
        committer = system.ledger.committer
        info: dict[str, Any] = {}
        if getattr(committer, "batches", 0):
            info["mean_batch"] = round(committer.commands / committer.batches, 1)  # type: ignore[attr-defined]
        return result, info
    finally:
        system.close()


def library_starts(url: DatabaseURL, *, clients: int, sizes: Sizes) -> Throughput:
    """The plain `eventsourcing` path: one aggregate created and saved per command, with the
    library's own recorder and transcoder (what a user of the library alone would write)."""
    from bench.cpu import PlainSession, plain_app

    app = plain_app(url, pool_size=max(2, min(clients, 20)))

    def op(client: int, n: int) -> object:
        return app.save(PlainSession(f"user-{client}", "198.51.100.7", AGENT, APPS[0], ["pwd"]))

    try:
        return run_clients(op, clients=clients, seconds=sizes.seconds, warmup=sizes.warmup)
    finally:
        app.close()


def _state(url: DatabaseURL) -> bytes:
    system = bootstrap(settings(url, group_commit=False), run_projections=False)
    try:
        return sample_state(system)
    finally:
        system.close()


def _row(id_: str, case: str, led: Throughput, base: Throughput, **kw: Any) -> Row:
    return Row(
        id=id_, case=case, metric="commands/s", ledger=round(led.rate, 1),
        baseline=round(base.rate, 1), baseline_name="raw single-row INSERT+COMMIT (rows/s)",
        p50_ms=led.p50_ms, p99_ms=led.p99_ms, baseline_p50_ms=base.p50_ms,
        baseline_p99_ms=base.p99_ms, **kw,
    )  # fmt: skip


def _errors(*results: Throughput) -> str:
    errors = [f"{r.errors} errors (first: {r.first_error})" for r in results if r.errors]
    return "; ".join(errors)


def w1(kind: str, sizes: Sizes) -> list[Row]:
    """W1: one client, group commit (service default) and plain save, vs raw commits."""
    with database(kind, "w1") as url:
        state = _state(url)
        base = raw.single_row_commits(
            url, state, clients=1, seconds=sizes.seconds, warmup=sizes.warmup
        )
        grouped, _ = ledger_starts(url, group_commit=True, clients=1, sizes=sizes)
        plain, _ = ledger_starts(url, group_commit=False, clients=1, sizes=sizes)
        library = library_starts(url, clients=1, sizes=sizes)
        size = human_bytes(store_size(url))
    goal = ">= 0.5x raw" if kind == "sqlite" else ""
    row = _row("W1", f"{kind}, 1 client", grouped, base, goal=goal, store=size)
    row.extra = {"plain_save_commands_per_s": round(plain.rate, 1), "plain_p50_ms": plain.p50_ms,
                 "library_commands_per_s": round(library.rate, 1)}  # fmt: skip
    row.notes = (f"plain one-save-per-command: {plain.rate:.0f}/s; the plain eventsourcing"
                 f" library (create + save one aggregate): {library.rate:.0f}/s")  # fmt: skip
    if err := _errors(base, grouped, plain, library):
        row.notes += f"; {err}"
    return [row]


def w2(kind: str, sizes: Sizes) -> list[Row]:
    """W2: 16 and 64 client threads; group commit vs raw commits vs the plain save."""
    rows = []
    with database(kind, "w2") as url:
        state = _state(url)
        for clients in W2_CLIENTS:
            base = raw.single_row_commits(
                url, state, clients=clients, seconds=sizes.seconds, warmup=sizes.warmup
            )
            grouped, info = ledger_starts(url, group_commit=True, clients=clients, sizes=sizes)
            plain, _ = ledger_starts(url, group_commit=False, clients=clients, sizes=sizes)
            library = library_starts(url, clients=clients, sizes=sizes)
            goal = ">= 1.0x raw" if kind == "postgresql" and clients == 16 else ""
            row = _row("W2", f"{kind}, {clients} clients", grouped, base, goal=goal)
            row.extra = {
                "plain_save_commands_per_s": round(plain.rate, 1),
                "plain_p50_ms": plain.p50_ms,
                "plain_p99_ms": plain.p99_ms,
                "group_commit_vs_plain": round(grouped.rate / max(plain.rate, 1e-9), 2),
                "library_commands_per_s": round(library.rate, 1),
                **info,
            }
            row.notes = (
                f"plain one-save-per-command: {plain.rate:.0f}/s"
                f" (group commit {row.extra['group_commit_vs_plain']}x it)"
                + (f"; mean batch {info['mean_batch']}" if "mean_batch" in info else "")
                + f"; plain eventsourcing library: {library.rate:.0f}/s"
            )
            if err := _errors(base, grouped, plain, library):
                row.notes += f"; {err}"
            rows.append(row)
            rows.append(_two_processes(url, clients, base, grouped, sizes))
        size = human_bytes(store_size(url))
    for row in rows:
        row.store = size
    return rows


def _two_processes(
    url: DatabaseURL, clients: int, base: Throughput, one: Throughput, sizes: Sizes
) -> Row:
    """The same clients split over two ledger processes (the scaling beside one process)."""
    from bench.procs import PROCESSES, starts_in_processes

    both = starts_in_processes(url, clients=clients, sizes=sizes)
    row = _row("W2", f"{url.kind}, {clients} clients, {PROCESSES} processes", both, base)
    row.extra = {"one_process_commands_per_s": round(one.rate, 1),
                 "versus_one_process": round(both.rate / max(one.rate, 1e-9), 2)}  # fmt: skip
    row.notes = (f"{clients // PROCESSES} client threads in each of {PROCESSES} processes,"
                 f" group commit; {row.extra['versus_one_process']}x one process")  # fmt: skip
    if err := _errors(both):
        row.notes += f"; {err}"
    return row


def w3(kind: str, sizes: Sizes) -> list[Row]:
    """W3: password reset of users with 100 open sessions: events/s and latency."""
    users = sizes.w3_users
    with database(kind, "w3") as url:
        system = bootstrap(settings(url, group_commit=True), run_projections=False)
        try:
            seed(system.ledger, sessions=users * 100, per_user=100, ended_share=0.0)
            latencies, events, ended = [], 0, 0
            for n in range(users):
                began = time.perf_counter()
                outcome = system.ledger.reset_password(
                    tenant=TENANT, user_id=f"user-{n}", actor="admin-1"
                )
                latencies.append(time.perf_counter() - began)
                ended += len(outcome.terminated)
                events += len(outcome.terminated) + len(outcome.expired) + 1
            state = sample_state(system)
        finally:
            system.close()
        base = raw.multi_row_commit(url, state, rows=101, repeats=users)
        size = human_bytes(store_size(url))
    rate = events / sum(latencies)
    base_rate = 101 * len(base) / sum(base)
    return [
        Row(
            id="W3",
            case=f"{kind}, reset ending 100 sessions",
            metric="events/s",
            ledger=round(rate, 1),
            baseline=round(base_rate, 1),
            baseline_name="raw 101-row INSERT+COMMIT (rows/s)",
            p50_ms=ms(percentile(latencies, 50)),
            p99_ms=ms(percentile(latencies, 99)),
            baseline_p50_ms=ms(percentile(base, 50)),
            baseline_p99_ms=ms(percentile(base, 99)),
            store=size,
            notes=f"{users} resets, {ended} sessions ended, {events} events",
        )
    ]
