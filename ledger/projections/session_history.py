"""Read model `session_history`: every session, open or ended, with reason, actor and cause.

Answers "what happened to this user's sessions" for admins and auditors without replaying
aggregates. Tests: tests/integration/test_views_contract.py, tests/properties/.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.aggregates import session_uuid
from ledger.projections.batching import BatchingProjection, SessionView
from ledger.projections.deltas import SESSION_TOPICS, SessionDelta, to_us
from ledger.projections.pages import Page, check_limit, decode_cursor, encode_cursor
from ledger.projections.rows import (
    END_COLUMNS,
    START_COLUMNS,
    activity_update_sql,
    as_uuid,
    json_append_param,
    json_append_sql,
    plain_row,
    record_from_row,
    start_values,
)
from ledger.projections.storage import PostgresViewStorage, SQLiteViewStorage
from ledger.records import SessionRecord

ALL_COLUMNS = START_COLUMNS + END_COLUMNS
COLUMNS = ", ".join(ALL_COLUMNS)


class SessionHistoryView(SessionView):
    """Every session the ledger has recorded, with how it ended."""

    name = "session_history"

    def view_tables(self) -> list[str]:
        """One table."""
        return ["session_history"]

    def view_ddl(self) -> list[str]:
        """The table, and the index behind `user_history`."""
        pg = self.dialect == "postgresql"
        key, js, big = ("uuid", "jsonb", "bigint") if pg else ("TEXT", "TEXT", "INTEGER")
        h, p = self.t("session_history"), self.prefix
        return [
            f"CREATE TABLE IF NOT EXISTS {h} (session_key {key} PRIMARY KEY,"
            f" tenant TEXT NOT NULL, session_id TEXT NOT NULL, user_id TEXT NOT NULL,"
            f" started_at {big} NOT NULL, last_active_at {big} NOT NULL,"
            f" expires_at {big} NOT NULL, hard_expires_at {big} NOT NULL,"
            f" idle_timeout_s {big} NOT NULL, ip TEXT, user_agent TEXT,"
            f" applications {js} NOT NULL, auth_methods {js} NOT NULL, ended_at {big},"
            " termination_reason TEXT, terminated_by TEXT, termination_cause TEXT)",
            # user_history: a user's sessions by start time (range and keyset)
            f"CREATE INDEX IF NOT EXISTS {p}session_history_user_idx ON {h}"
            " (tenant, user_id, started_at DESC, session_key DESC)",
        ]

    def apply_rows(self, c: Any, deltas: Sequence[SessionDelta], tracking: Tracking) -> None:
        """In the caller's transaction: tracking first (refuses a replay), then the rows."""
        h = self.t("session_history")
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        appends: list[tuple[Any, ...]] = []
        ends: list[tuple[Any, ...]] = []
        for d in deltas:
            k = self.key(d.key)
            end = (d.ended_us, d.reason, d.actor, d.cause)
            if d.start is not None:
                inserts.append((*start_values(k, d.start_row(), self), *end))
                continue
            if d.last_active_us is not None:
                updates.append((d.last_active_us, d.ip, d.last_active_us, k))
            appends += [(json_append_param(self, app), k) for app in d.joined]
            if d.ended:
                ends.append((*end, k))
        self.write_tracking(c, tracking)
        if inserts:
            self.bulk_insert(c, h, ALL_COLUMNS, inserts)
        if updates:
            c.executemany(activity_update_sql(self, h), updates)
        if appends:
            c.executemany(
                f"UPDATE {h} SET applications = {json_append_sql(self.dialect)}"
                " WHERE session_key = ?",
                appends,
            )
        if ends:
            c.executemany(
                f"UPDATE {h} SET ended_at = ?, termination_reason = ?, terminated_by = ?,"
                " termination_cause = ? WHERE session_key = ?",
                ends,
            )

    def user_history(
        self,
        tenant: str,
        user_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page:
        """The user's sessions that overlap [since, until), newest start first."""
        limit = check_limit(limit)
        where: list[str] = ["tenant = ?", "user_id = ?"]
        params: list[Any] = [tenant, user_id]
        if until is not None:
            where.append("started_at < ?")
            params.append(to_us(until))
        if since is not None:
            where.append("COALESCE(ended_at, expires_at) >= ?")
            params.append(to_us(since))
        if cursor is not None:
            started_us, key = decode_cursor(cursor)
            where.append("(started_at, session_key) < (?, ?)")
            params += [started_us, self.key(key)]
        with self.read() as c:
            c.execute(
                f"SELECT {COLUMNS} FROM {self.t('session_history')}"
                f" WHERE {' AND '.join(where)}"
                " ORDER BY started_at DESC, session_key DESC LIMIT ?",
                (*params, limit + 1),
            )
            rows = c.fetchall()
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["started_at"], as_uuid(last["session_key"]))
        return Page([record_from_row(r, self) for r in rows[:limit]], next_cursor)

    def get(self, tenant: str, session_id: str) -> SessionRecord | None:
        """One session's record, open or ended."""
        rows = self.fetch(*self._get_sql(tenant, session_id))
        return record_from_row(rows[0], self) if rows else None

    async def get_async(self, tenant: str, session_id: str) -> SessionRecord | None:
        """`get` awaited (see `fetch_async`)."""
        rows = await self.fetch_async(*self._get_sql(tenant, session_id))
        return record_from_row(rows[0], self) if rows else None

    def _get_sql(self, tenant: str, session_id: str) -> tuple[str, tuple[Any, ...]]:
        return (
            f"SELECT {COLUMNS} FROM {self.t('session_history')}"
            " WHERE session_key = ? AND tenant = ?",
            (self.key(session_uuid(tenant, session_id)), tenant),
        )

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row as plain tuples, in key order (for `verify`)."""
        with self.txn(commit=False) as c:
            c.execute(f"SELECT {COLUMNS} FROM {self.t('session_history')} ORDER BY session_key")
            for r in c.fetchall():
                yield plain_row("session_history", r, ALL_COLUMNS, self)


class SQLiteSessionHistoryView(SessionHistoryView, SQLiteViewStorage):
    """`session_history` in SQLite."""


class PostgresSessionHistoryView(SessionHistoryView, PostgresViewStorage):
    """`session_history` in PostgreSQL."""


class SessionHistory(BatchingProjection[SessionHistoryView]):
    """Keeps `session_history` up to date from the notification log."""

    name = "session_history"
    consumes = SESSION_TOPICS
