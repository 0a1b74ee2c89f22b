"""Read model `session_counts`: how many sessions started and ended, per tenant, hour and label.

Answers the console's charts (open sessions over time, sign-ins per hour, terminations per
day by reason, top applications) with a few small grouped reads, never by scanning the log
or the sessions per request. One row per (tenant, hour, kind, label) holds a count: kind
`started` is labelled with the application the session started in (`""` when none), kind
`ended` with the termination reason. Hours are those of the events' own time (`at`: when it
happened at the identity provider), counted from the epoch. A termination carries no tenant,
so the view keeps the tenant of every session it saw start and not end yet
(`session_counts_open`). Batches, tracking and rebuild are those of the session views.
Tests: tests/integration/test_views_contract.py, tests/api/test_console_api.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.projections.batching import BatchingProjection, SessionView
from ledger.projections.deltas import SESSION_TOPICS, SessionDelta, to_us
from ledger.projections.rows import as_uuid, plain_row
from ledger.projections.storage import PostgresViewStorage, SQLiteViewStorage

HOUR_US = 3_600_000_000
STARTED, ENDED = "started", "ended"
COUNT_COLUMNS = ["tenant", "hour", "kind", "label", "n"]


@dataclass(frozen=True)
class HourCount:
    """`n` events of `kind` labelled `label` in hour `hour` (hours since the epoch)."""

    hour: int
    label: str
    n: int


class SessionCountsView(SessionView):
    """Counts of session starts (by application) and ends (by reason) per tenant and hour."""

    name = "session_counts"

    def view_tables(self) -> list[str]:
        """Counts, the open sessions' tenants, and the applications' names."""
        return ["session_counts", "session_counts_open", "session_counts_apps"]

    def view_ddl(self) -> list[str]:
        """Tables; the primary keys serve every query (tenant first, then hour)."""
        pg = self.dialect == "postgresql"
        key, big = ("uuid", "bigint") if pg else ("TEXT", "INTEGER")
        c, o, a = (
            self.t("session_counts"),
            self.t("session_counts_open"),
            self.t("session_counts_apps"),
        )
        return [
            f"CREATE TABLE IF NOT EXISTS {c} (tenant TEXT NOT NULL, hour {big} NOT NULL,"
            f" kind TEXT NOT NULL, label TEXT NOT NULL, n {big} NOT NULL,"
            " PRIMARY KEY (tenant, kind, hour, label))",
            f"CREATE TABLE IF NOT EXISTS {o} (session_key {key} PRIMARY KEY, tenant TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {a} (tenant TEXT NOT NULL, app_id TEXT NOT NULL,"
            " name TEXT NOT NULL, PRIMARY KEY (tenant, app_id))",
        ]

    # ------------------------------------------------------------------ writes

    def apply_rows(self, c: Any, deltas: Sequence[SessionDelta], tracking: Tracking) -> None:
        """In the caller's transaction: tracking first (refuses a replay), then the counts."""
        counts: Counter[tuple[str, int, str, str]] = Counter()
        opened: list[tuple[Any, str]] = []
        names: dict[tuple[str, str], str] = {}
        closed: list[tuple[Any, int, str]] = []
        tenants: dict[Any, str] = {}
        for d in deltas:
            k = self.key(d.key)
            if d.start is not None:
                s = d.start
                tenant, app = s["tenant"], s["application"]
                counts[(tenant, _hour(to_us(s["at"])), STARTED, app["id"] if app else "")] += 1
                if app:
                    names[(tenant, app["id"])] = app.get("name") or app["id"]
                tenants[k] = tenant
                if not d.ended:
                    opened.append((k, tenant))
            if d.ended:
                closed.append((k, _hour(d.ended_us or 0), d.reason or ""))
        self.write_tracking(c, tracking)
        o = self.t("session_counts_open")
        for k, hour, reason in closed:
            tenant = tenants.get(k) or self._open_tenant(c, k)
            if tenant is not None:
                counts[(tenant, hour, ENDED, reason)] += 1
        if closed:
            c.executemany(f"DELETE FROM {o} WHERE session_key = ?", [(k,) for k, _, _ in closed])
        if opened:
            self.bulk_insert(c, o, ["session_key", "tenant"], opened)
        self._add(c, counts, names)

    def _open_tenant(self, c: Any, key: Any) -> str | None:
        c.execute(
            f"SELECT tenant FROM {self.t('session_counts_open')} WHERE session_key = ?", (key,)
        )
        row = c.fetchone()
        return str(row["tenant"]) if row is not None else None

    def _add(
        self, c: Any, counts: Counter[tuple[str, int, str, str]], names: dict[tuple[str, str], str]
    ) -> None:
        if counts:
            c.executemany(
                f"INSERT INTO {self.t('session_counts')} AS t (tenant, hour, kind, label, n)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, kind, hour, label)"
                " DO UPDATE SET n = t.n + excluded.n",
                [(*k, n) for k, n in sorted(counts.items())],
            )
        if names:
            c.executemany(
                f"INSERT INTO {self.t('session_counts_apps')} AS t (tenant, app_id, name)"
                " VALUES (?, ?, ?) ON CONFLICT (tenant, app_id) DO UPDATE SET name = excluded.name",
                [(*k, n) for k, n in sorted(names.items())],
            )

    # ----------------------------------------------------------------- queries

    def hourly(self, tenant: str, kind: str, *, since: int, until: int) -> list[HourCount]:
        """Counts of `kind` in hours [since, until), by hour and label."""
        with self.read() as c:
            c.execute(
                f"SELECT hour, label, n FROM {self.t('session_counts')}"
                " WHERE tenant = ? AND kind = ? AND hour >= ? AND hour < ? ORDER BY hour, label",
                (tenant, kind, since, until),
            )
            return [HourCount(int(r["hour"]), r["label"], int(r["n"])) for r in c.fetchall()]

    def balance_before(self, tenant: str, hour: int) -> int:
        """Sessions started minus sessions ended before hour `hour` (open at its start)."""
        with self.read() as c:
            c.execute(
                f"SELECT kind, SUM(n) AS n FROM {self.t('session_counts')}"
                " WHERE tenant = ? AND hour < ? GROUP BY kind",
                (tenant, hour),
            )
            sums = {r["kind"]: int(r["n"]) for r in c.fetchall()}
        return sums.get(STARTED, 0) - sums.get(ENDED, 0)

    def application_names(self, tenant: str, app_ids: Sequence[str]) -> dict[str, str]:
        """The names the applications were last started with (id when unnamed)."""
        if not app_ids:
            return {}
        marks = ", ".join("?" * len(app_ids))
        with self.read() as c:
            c.execute(
                f"SELECT app_id, name FROM {self.t('session_counts_apps')}"
                f" WHERE tenant = ? AND app_id IN ({marks})",
                (tenant, *app_ids),
            )
            return {r["app_id"]: r["name"] for r in c.fetchall()}

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row of the three tables as plain tuples, in key order (for `verify`)."""
        with self.txn(commit=False) as c:
            c.execute(
                f"SELECT {', '.join(COUNT_COLUMNS)} FROM {self.t('session_counts')}"
                " ORDER BY tenant, kind, hour, label"
            )
            for r in c.fetchall():
                yield plain_row("session_counts", r, COUNT_COLUMNS, self)
            c.execute(f"SELECT session_key, tenant FROM {self.t('session_counts_open')}")
            for r in sorted(c.fetchall(), key=lambda r: as_uuid(r["session_key"]).hex):
                yield plain_row("session_counts_open", r, ["session_key", "tenant"], self)


def _hour(at_us: int) -> int:
    return at_us // HOUR_US


class SQLiteSessionCountsView(SessionCountsView, SQLiteViewStorage):
    """`session_counts` in SQLite."""


class PostgresSessionCountsView(SessionCountsView, PostgresViewStorage):
    """`session_counts` in PostgreSQL."""


class SessionCounts(BatchingProjection[SessionCountsView]):
    """Keeps `session_counts` up to date from the notification log."""

    name = "session_counts"
    consumes = SESSION_TOPICS
