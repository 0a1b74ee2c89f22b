"""Seen inbound messages, keyed by (connection, sender's event id), so a replay records nothing.

One row per (connection, event_id) in the events database (`ledger_inbound_seen`), kept until
its replay window has passed; the primary key makes "first time seen" atomic across worker
processes and restarts. The OpenID back-channel logout keys its tokens by issuer (or by the
connection its issuer matches), the webhooks by connection name. Expired rows are purged at
most once a minute per store. Tests: tests/inbound/test_seen_store.py (SQLite and
PostgreSQL), tests/api/test_backchannel.py (replay after a restart).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from contextlib import closing
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ledger.persistence.url import DatabaseURL

TABLE = "ledger_inbound_seen"
PURGE_EVERY_S = 60.0
COLUMNS = (
    "(connection {t} NOT NULL, event_id {t} NOT NULL, expires_at {i} NOT NULL,"
    " PRIMARY KEY (connection, event_id))"
)


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class SeenStore(ABC):
    """Remembers the ids of the messages a connection received, until they expire."""

    def __init__(self) -> None:
        self._purged_at = float("-inf")

    def _purge_due(self) -> bool:
        now = time.monotonic()
        if now - self._purged_at < PURGE_EVERY_S:
            return False
        self._purged_at = now
        return True

    @abstractmethod
    def remember(self, connection: str, event_id: str, *, until: datetime, now: datetime) -> bool:
        """Record (connection, event_id); False when it was already recorded (a replay)."""

    @abstractmethod
    def forget(self, connection: str, event_id: str) -> None:
        """Drop (connection, event_id) again (what it carried could not be recorded)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


class SQLiteSeenStore(SeenStore):
    """Seen ids in the SQLite events file."""

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__()
        assert url.path is not None
        self.path = url.path
        with closing(self._connect()) as conn, conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} " + COLUMNS.format(t="TEXT", i="INTEGER")
            )
            conn.execute(f"CREATE INDEX IF NOT EXISTS {TABLE}_expiry ON {TABLE} (expires_at)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def remember(self, connection: str, event_id: str, *, until: datetime, now: datetime) -> bool:
        """Insert, purging expired ids first (at most once a minute)."""
        with closing(self._connect()) as conn, conn:
            if self._purge_due():
                conn.execute(f"DELETE FROM {TABLE} WHERE expires_at < ?", (_us(now),))  # noqa: S608
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?, ?)",  # noqa: S608
                (connection, event_id, _us(until)),
            )
            return cursor.rowcount == 1

    def forget(self, connection: str, event_id: str) -> None:
        """Delete the row."""
        with closing(self._connect()) as conn, conn:
            conn.execute(
                f"DELETE FROM {TABLE} WHERE connection = ? AND event_id = ?",  # noqa: S608
                (connection, event_id),
            )


class PostgresSeenStore(SeenStore):
    """Seen ids in the PostgreSQL events database (schema of the URL)."""

    def __init__(self, url: DatabaseURL) -> None:
        super().__init__()
        self.url = url
        self.table = sql.Identifier(url.schema, TABLE)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        create = "CREATE TABLE IF NOT EXISTS {} " + COLUMNS.format(t="text", i="bigint")
        index = "CREATE INDEX IF NOT EXISTS {} ON {} (expires_at)"
        with self._lock:
            conn = self._connection()
            conn.execute(sql.SQL(create).format(self.table))
            conn.execute(sql.SQL(index).format(sql.Identifier(f"{TABLE}_expiry"), self.table))

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            info: dict[str, Any] = dict(self.url.conninfo())
            self._conn = psycopg.connect(**info, autocommit=True, connect_timeout=5)
        return self._conn

    def remember(self, connection: str, event_id: str, *, until: datetime, now: datetime) -> bool:
        """Insert, purging expired ids first (at most once a minute)."""
        with self._lock:
            conn = self._connection()
            if self._purge_due():
                conn.execute(
                    sql.SQL("DELETE FROM {} WHERE expires_at < %s").format(self.table), (_us(now),)
                )
            cursor = conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(
                    self.table
                ),
                (connection, event_id, _us(until)),
            )
            return cursor.rowcount == 1

    def forget(self, connection: str, event_id: str) -> None:
        """Delete the row."""
        with self._lock:
            self._connection().execute(
                sql.SQL("DELETE FROM {} WHERE connection = %s AND event_id = %s").format(
                    self.table
                ),
                (connection, event_id),
            )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def open_seen_store(url: DatabaseURL) -> SeenStore:
    """The store for this database (its table created when missing)."""
    return SQLiteSeenStore(url) if url.kind == "sqlite" else PostgresSeenStore(url)
