"""Read model `active_sessions`: which sessions are open, per tenant and user.

A row exists from a session's start until its termination is projected; queries also hide
rows past `expires_at` at query time, so an expired session is never shown as open, even
before the reaper has recorded the expiry. Indexes: see `view_ddl` (each names its query).
Tests: tests/integration/test_views_contract.py, tests/properties/test_views_model.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.aggregates import session_uuid
from ledger.projections import session_search
from ledger.projections.batching import BatchingProjection, SessionView
from ledger.projections.deltas import SESSION_TOPICS, SessionDelta, to_us
from ledger.projections.pages import Page, check_limit
from ledger.projections.rows import (
    START_COLUMNS,
    activity_update_sql,
    json_append_param,
    json_append_sql,
    plain_row,
    record_from_row,
    start_values,
)
from ledger.projections.session_search import SessionFilter
from ledger.projections.storage import PostgresViewStorage, SQLiteViewStorage
from ledger.records import SessionRecord

COLUMNS = ", ".join(START_COLUMNS)
__all__ = ["ActiveSessionsView", "SessionFilter"]


class ActiveSessionsView(SessionView):
    """The open sessions; queries take `now` to hide sessions already past expiry."""

    name = "active_sessions"

    def view_tables(self) -> list[str]:
        """Child table first."""
        return ["active_session_apps", "active_sessions"]

    def view_ddl(self) -> list[str]:
        """Tables, and the index behind each query."""
        pg = self.dialect == "postgresql"
        key, js, big = ("uuid", "jsonb", "bigint") if pg else ("TEXT", "TEXT", "INTEGER")
        s, a, p = self.t("active_sessions"), self.t("active_session_apps"), self.prefix
        return [
            f"CREATE TABLE IF NOT EXISTS {s} (session_key {key} PRIMARY KEY,"
            f" tenant TEXT NOT NULL, session_id TEXT NOT NULL, user_id TEXT NOT NULL,"
            f" started_at {big} NOT NULL, last_active_at {big} NOT NULL,"
            f" expires_at {big} NOT NULL, hard_expires_at {big} NOT NULL,"
            f" idle_timeout_s {big} NOT NULL, ip TEXT, user_agent TEXT,"
            f" applications {js} NOT NULL, auth_methods {js} NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {a} (session_key {key} NOT NULL,"
            f" app_id TEXT NOT NULL, tenant TEXT NOT NULL, started_at {big} NOT NULL,"
            " PRIMARY KEY (session_key, app_id))",
            # user_sessions, count_by_user, list_sessions filtered by user
            f"CREATE INDEX IF NOT EXISTS {p}active_sessions_user_idx ON {s}"
            " (tenant, user_id, started_at DESC, session_key DESC)",
            # list_sessions (newest first), with started_after / started_before
            f"CREATE INDEX IF NOT EXISTS {p}active_sessions_tenant_idx ON {s}"
            " (tenant, started_at DESC, session_key DESC)",
            # list_sessions filtered by ip
            f"CREATE INDEX IF NOT EXISTS {p}active_sessions_ip_idx ON {s}"
            " (tenant, ip, started_at DESC, session_key DESC)",
            # due (the reaper)
            f"CREATE INDEX IF NOT EXISTS {p}active_sessions_expiry_idx ON {s} (expires_at)",
            # list_sessions filtered by application
            f"CREATE INDEX IF NOT EXISTS {p}active_session_apps_idx ON {a}"
            " (tenant, app_id, started_at DESC, session_key DESC)",
        ]

    # ------------------------------------------------------------------ writes

    def apply_rows(self, c: Any, deltas: Sequence[SessionDelta], tracking: Tracking) -> None:
        """In the caller's transaction: tracking first (refuses a replay), then the rows."""
        s, a = self.t("active_sessions"), self.t("active_session_apps")
        inserts: list[tuple[Any, ...]] = []
        start_apps: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        deletes: list[tuple[Any, ...]] = []
        appends: list[tuple[Any, ...]] = []
        joins: list[tuple[Any, ...]] = []
        for d in deltas:
            k = self.key(d.key)
            if d.ended:
                if d.start is None:
                    deletes.append((k,))
            elif d.start is not None:
                row = d.start_row()
                inserts.append(start_values(k, row, self))
                start_apps += [
                    (k, app["id"], row["tenant"], row["started_at"]) for app in row["applications"]
                ]
            else:
                if d.last_active_us is not None:
                    updates.append((d.last_active_us, d.ip, d.last_active_us, k))
                for app in d.joined:
                    appends.append((json_append_param(self, app), k))
                    joins.append((app["id"], k))
        self.write_tracking(c, tracking)
        if deletes:
            c.executemany(f"DELETE FROM {a} WHERE session_key = ?", deletes)
            c.executemany(f"DELETE FROM {s} WHERE session_key = ?", deletes)
        if inserts:
            self.bulk_insert(c, s, START_COLUMNS, inserts)
        if start_apps:
            self.bulk_insert(c, a, ["session_key", "app_id", "tenant", "started_at"], start_apps)
        if updates:
            c.executemany(activity_update_sql(self, s), updates)
        if appends:
            c.executemany(
                f"UPDATE {s} SET applications = {json_append_sql(self.dialect)}"
                " WHERE session_key = ?",
                appends,
            )
            c.executemany(
                f"INSERT INTO {a} SELECT session_key, ?, tenant, started_at FROM {s}"
                " WHERE session_key = ?",
                joins,
            )

    # ----------------------------------------------------------------- queries

    def user_sessions(self, tenant: str, user_id: str, *, now: datetime) -> list[SessionRecord]:
        """The user's open sessions, newest first (at most 1000)."""
        rows = self.fetch(*self._user_sessions_sql(tenant, user_id, now))
        return [record_from_row(r, self) for r in rows]

    async def user_sessions_async(
        self, tenant: str, user_id: str, *, now: datetime
    ) -> list[SessionRecord]:
        """`user_sessions` awaited (see `fetch_async`)."""
        rows = await self.fetch_async(*self._user_sessions_sql(tenant, user_id, now))
        return [record_from_row(r, self) for r in rows]

    def _user_sessions_sql(
        self, tenant: str, user_id: str, now: datetime
    ) -> tuple[str, tuple[Any, ...]]:
        return (
            f"SELECT {COLUMNS} FROM {self.t('active_sessions')} WHERE tenant = ?"
            " AND user_id = ? AND expires_at > ?"
            " ORDER BY started_at DESC, session_key DESC LIMIT 1000",
            (tenant, user_id, to_us(now)),
        )

    def get(self, tenant: str, session_id: str, *, now: datetime) -> SessionRecord | None:
        """One open session, or None."""
        rows = self.fetch(*self._get_sql(tenant, session_id, now))
        return record_from_row(rows[0], self) if rows else None

    async def get_async(
        self, tenant: str, session_id: str, *, now: datetime
    ) -> SessionRecord | None:
        """`get` awaited (see `fetch_async`)."""
        rows = await self.fetch_async(*self._get_sql(tenant, session_id, now))
        return record_from_row(rows[0], self) if rows else None

    def _get_sql(self, tenant: str, session_id: str, now: datetime) -> tuple[str, tuple[Any, ...]]:
        return (
            f"SELECT {COLUMNS} FROM {self.t('active_sessions')}"
            " WHERE session_key = ? AND tenant = ? AND expires_at > ?",
            (self.key(session_uuid(tenant, session_id)), tenant, to_us(now)),
        )

    def list_sessions(
        self,
        tenant: str,
        *,
        now: datetime,
        filters: SessionFilter | None = None,
        limit: int = 50,
        cursor: str | None = None,
        oldest_first: bool = False,
    ) -> Page:
        """The tenant's open sessions, newest first, filtered, one page at a time."""
        return session_search.list_sessions(
            self,
            tenant,
            now=now,
            filters=filters,
            limit=limit,
            cursor=cursor,
            oldest_first=oldest_first,
        )

    def count_sessions(
        self, tenant: str, *, now: datetime, filters: SessionFilter | None = None
    ) -> tuple[int, int]:
        """(open sessions, users with open sessions) of the tenant, filtered."""
        return session_search.count_sessions(self, tenant, now=now, filters=filters)

    def count_by_user(
        self, tenant: str, *, now: datetime, prefix: str | None = None, limit: int = 100
    ) -> list[tuple[str, int]]:
        """(user_id, open sessions) of the tenant's users, by user id, optionally by prefix."""
        where: list[str] = ["tenant = ?", "expires_at > ?"]
        params: list[Any] = [tenant, to_us(now)]
        if prefix:
            where += ["user_id >= ?", "user_id < ?"]
            params += [prefix, prefix + "\U0010ffff"]
        with self.read() as c:
            c.execute(
                f"SELECT user_id, COUNT(*) AS n FROM {self.t('active_sessions')}"
                f" WHERE {' AND '.join(where)} GROUP BY user_id ORDER BY user_id LIMIT ?",
                (*params, check_limit(limit)),
            )
            return [(r["user_id"], int(r["n"])) for r in c.fetchall()]

    def due(self, *, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(tenant, session_id) of sessions past expiry whose termination is not recorded."""
        with self.read() as c:
            c.execute(
                f"SELECT tenant, session_id FROM {self.t('active_sessions')}"
                " WHERE expires_at <= ? ORDER BY expires_at LIMIT ?",
                (to_us(now), limit),
            )
            return [(r["tenant"], r["session_id"]) for r in c.fetchall()]

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row of both tables as plain tuples, in key order (for `verify`)."""
        with self.txn(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {self.t('active_sessions')} ORDER BY session_key")
            for r in c.fetchall():
                yield plain_row("active_sessions", r, START_COLUMNS, self)
            columns = ["session_key", "app_id", "tenant", "started_at"]
            c.execute(
                f"SELECT {', '.join(columns)} FROM {self.t('active_session_apps')}"
                " ORDER BY session_key, app_id"
            )
            for r in c.fetchall():
                yield plain_row("active_session_apps", r, columns, self)


class SQLiteActiveSessionsView(ActiveSessionsView, SQLiteViewStorage):
    """`active_sessions` in SQLite."""


class PostgresActiveSessionsView(ActiveSessionsView, PostgresViewStorage):
    """`active_sessions` in PostgreSQL."""


class ActiveSessions(BatchingProjection[ActiveSessionsView]):
    """Keeps `active_sessions` up to date from the notification log."""

    name = "active_sessions"
    consumes = SESSION_TOPICS
