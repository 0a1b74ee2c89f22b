"""P1 and P2: how fast the views catch up with the log, and how far behind they run.

P1 projects a seeded log into emptied views and outbox (every projection, by one reader, as
the service runs them; and, in the same run, by one reader per projection, the earlier design)
and compares with a raw ordered scan of the events table. P2 drives 1,000 start-session
commands/s while `ledger project` runs the projections in its own process, and measures the
time from a command's return to the moment both views have processed its position; the
baseline is `bench.relay`, a minimal LISTEN/NOTIFY copy process, at the same rate.
"""

from __future__ import annotations

import heapq
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench import raw
from bench.core import Row, Sizes, ms, percentile
from bench.infra import (
    TENANT,
    UNSAFE_ENV,
    database,
    human_bytes,
    settings,
    store_size,
    url_text,
)
from bench.relay import CHANNEL
from bench.seed import AGENT, APPS
from bench.stores import Stores
from ledger.bootstrap import bootstrap
from ledger.persistence.schema import events_table
from ledger.projections.rebuild import catch_up, open_events
from ledger.projections.registry import PROJECTIONS, open_view, specs
from ledger.projections.runner import APP_NAME, ViewRunner

P2_RATE = 1000
P2_THREADS = 16


def p1(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    """P1: catch-up of the seeded log by every projection, as a process runs them, vs a raw scan.

    Measured twice in the same run on the same log: one reader for all projections (the
    service's way) and one reader per projection (the earlier design), each into emptied views.
    """
    store = stores.log(kind, sizes.p1_events)
    url = store.url
    rows_scanned, scan_s = raw.ordered_scan(url, events_table(url))
    conf = settings(url, group_commit=False)
    events = store.seeded.events
    errors: list[str] = []
    separate = _catch_up(conf, shared=False, errors=errors)
    shared = _catch_up(conf, shared=True, errors=errors)
    app = open_events(conf)
    alone = {name: _alone(name, conf, app, events) for name in specs("view")}
    app.close()
    store.views_filled = not errors
    row = Row(
        id="P1", case=f"{kind}, {events:,} events, {len(PROJECTIONS)} projections",
        metric="events/s", ledger=round(events / shared, 1),
        baseline=round(rows_scanned / scan_s, 1),
        baseline_name="raw ordered scan of the events table (rows/s)",
        store=human_bytes(store_size(url)),
    )  # fmt: skip
    row.extra = {
        "shared_reader_seconds": round(shared, 2),
        "reader_per_projection_seconds": round(separate, 2),
        "reader_per_projection_events_per_s": round(events / separate, 1),
    }
    row.extra.update({f"{n}_alone_events_per_s": round(r, 1) for n, r in alone.items()})
    row.notes = (
        f"{', '.join(PROJECTIONS)} caught up from 0 by one reader (as `ledger project` runs"
        f" them): {shared:.1f} s; one reader per projection, same run: {separate:.1f} s"
        f" ({events / separate:,.0f} events/s, {shared / separate:.2f}x the time); each view"
        " alone (`rebuild`'s catch-up): " + ", ".join(f"{n} {r:,.0f}/s" for n, r in alone.items())
    )
    if errors:
        row.status, row.notes = "error", "; ".join(errors)
    return [row]


def _catch_up(conf: Any, *, shared: bool, errors: list[str], timeout: float = 900) -> float:
    """Seconds for every projection to reach the head from emptied views."""
    for name in PROJECTIONS:  # emptied: dropped, then made afresh as a first start makes them
        view, factory = open_view(name, conf, create=False)
        view.drop_tables()
        factory.close()
    opened = {name: open_view(name, conf) for name in PROJECTIONS}
    app = open_events(conf)
    head = app.recorder.max_notification_id() or 0
    app.close()
    given = list(PROJECTIONS.values())
    groups = [given] if shared else [[spec] for spec in given]
    runners = [
        ViewRunner(group, events=conf.events_url, views=conf.views_url, batch=conf.projection_batch)
        for group in groups
    ]
    began = time.perf_counter()
    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all((v.max_tracking_id(APP_NAME) or 0) >= head for v, _ in opened.values()):
                break
            time.sleep(0.05)
        else:
            errors.append(f"not caught up in {timeout:.0f} s ({'shared' if shared else 'each'})")
        return time.perf_counter() - began
    finally:
        for runner in runners:
            runner.stop()
        for _, factory in opened.values():
            factory.close()


def _alone(name: str, conf: Any, app: Any, events: int) -> float:
    """Events/s of one view catching up on its own (scratch tables, dropped afterwards)."""
    view, factory = open_view(name, conf, prefix="bench_alone_")
    try:
        began = time.perf_counter()
        catch_up(name, view, app)
        return events / (time.perf_counter() - began)
    finally:
        view.drop_tables()
        factory.close()


class LagWatcher:
    """Polls the visible position and records, for each command, its time to visibility."""

    def __init__(self, visible: Callable[[], int]) -> None:
        self.visible = visible
        self.lags: list[float] = []
        self.errors: list[str] = []
        self._pending: list[tuple[int, float]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def add(self, position: int, done: float) -> None:
        """A command returned at `done` having written up to `position`."""
        with self._lock:
            heapq.heappush(self._pending, (position, done))

    def _run(self) -> None:
        while not self._stop.is_set():
            seen = self.visible()
            now = time.perf_counter()
            with self._lock:
                while self._pending and self._pending[0][0] <= seen:
                    _, done = heapq.heappop(self._pending)
                    self.lags.append(max(0.0, now - done))
            time.sleep(0.001)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def drain(self, timeout: float) -> int:
        """Wait until nothing is pending (or timeout); stop; return what is still pending."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        self._thread.join()
        return len(self._pending)


def paced(
    op: Callable[[int], int | None], watcher: LagWatcher, *, rate: int, seconds: float
) -> tuple[float, list[float]]:
    """Call `op(k)` open-loop at `rate`/s from P2_THREADS threads: (achieved rate, lateness)."""
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    late: list[float] = []

    def worker(first: int) -> None:
        for k in range(first, total, P2_THREADS):
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                late.append(-delay)
            try:
                position = op(k)
            except Exception as e:
                watcher.errors.append(f"{type(e).__name__}: {e}")
                continue
            if position is not None:
                watcher.add(position, time.perf_counter())

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(P2_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return total / (time.perf_counter() - start), late


def _ledger_lag(url: Any, sizes: Sizes) -> tuple[LagWatcher, float, list[float], int]:
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(url), "LEDGER_JWT_SECRET": "x" * 40}
    env |= UNSAFE_ENV
    system = bootstrap(settings(url, group_commit=True), run_projections=False)
    ledger_bin = os.path.join(os.path.dirname(sys.executable), "ledger")
    proc = subprocess.Popen(
        [ledger_bin, "project"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def op(k: int) -> int | None:
            return system.ledger.start_session(
                tenant=TENANT, user_id=f"user-{k % 1000}", ip="198.51.100.9",
                user_agent=AGENT, application=APPS[k % len(APPS)], auth_methods=["pwd"],
            ).position  # fmt: skip

        system.wait(op(-1), timeout=60)

        def visible() -> int:
            return min(v.max_tracking_id(APP_NAME) or 0 for v in system.views.values())

        watcher = LagWatcher(visible)
        watcher.start()
        rate, late = paced(op, watcher, rate=P2_RATE, seconds=sizes.p2_seconds)
        left = watcher.drain(timeout=30)
        return watcher, rate, late, left
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        system.close()


def _raw_lag(url: Any, sizes: Sizes) -> tuple[LagWatcher, float]:
    raw.create_table(url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.relay", url_text(url)], stdout=subprocess.DEVNULL
    )
    local = threading.local()
    statement = (
        "WITH i AS (INSERT INTO raw_events (originator_id, originator_version, topic, state)"
        " VALUES (%s, 1, %s, %s) RETURNING notification_id)"
        f" SELECT (SELECT notification_id FROM i), pg_notify('{CHANNEL}', '')"
    )
    try:

        def op(_: int) -> int:
            if not hasattr(local, "conn"):
                local.conn = raw.pg_connect(url, autocommit=True)
            row = local.conn.execute(statement, (uuid.uuid4(), raw.TOPIC, b"x" * 400)).fetchone()
            return int(row[0])

        with raw.pg_connect(url, autocommit=True) as reader:

            def visible() -> int:
                row = reader.execute(
                    "SELECT COALESCE(MAX(notification_id), 0) FROM raw_copy"
                ).fetchone()
                return int(row[0]) if row else 0

            _wait_for_table(reader)
            watcher = LagWatcher(visible)
            watcher.start()
            rate, _ = paced(op, watcher, rate=P2_RATE, seconds=sizes.p2_seconds)
            watcher.drain(timeout=30)
        return watcher, rate
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_table(conn: Any) -> None:
    for _ in range(300):
        if conn.execute("SELECT to_regclass('raw_copy')").fetchone()[0]:
            return
        time.sleep(0.05)


def p2(kind: str, sizes: Sizes) -> list[Row]:
    """P2: projection lag p50/p99 under a steady 1,000 commands/s (PostgreSQL)."""
    with database(kind, "p2") as url:
        watcher, rate, late, left = _ledger_lag(url, sizes)
        base, base_rate = _raw_lag(url, sizes)
        size = human_bytes(store_size(url))
    row = Row(
        id="P2", case=f"{kind}, {P2_RATE:,} commands/s offered", metric="lag ms p50",
        ledger=ms(percentile(watcher.lags, 50)), baseline=ms(percentile(base.lags, 50)),
        baseline_name="raw INSERT+NOTIFY, relay process copies rows (lag ms p50)",
        higher_is_better=False, p50_ms=ms(percentile(watcher.lags, 50)),
        p99_ms=ms(percentile(watcher.lags, 99)), baseline_p50_ms=ms(percentile(base.lags, 50)),
        baseline_p99_ms=ms(percentile(base.lags, 99)), store=size,
    )  # fmt: skip
    late_p99 = ms(percentile(late, 99)) or 0.0
    row.extra = {
        "achieved_commands_per_s": round(rate, 1),
        "baseline_achieved_per_s": round(base_rate, 1),
        "commands": len(watcher.lags),
        "late_commands": len(late),
        "late_p99_ms": late_p99,
        "never_visible": left,
    }
    row.notes = (
        f"achieved {rate:.0f} commands/s ({len(late)} issued late, p99 {late_p99:.0f} ms late);"
        f" baseline achieved {base_rate:.0f}/s; lag = command return to visible in both views"
    )
    for name, w in (("ledger", watcher), ("baseline", base)):
        if w.errors:
            row.notes += f"; {name}: {len(w.errors)} errors (first: {w.errors[0]})"
    return [row]
