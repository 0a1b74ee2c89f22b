"""Seen back-channel logout token ids (`jti`), so a replayed logout token is refused.

One row per (issuer, jti) in the events database (`ledger_logout_jti`), kept until the
token's replay window has passed; the primary key makes "first time seen" atomic across
processes and restarts. Tests: tests/api/test_backchannel.py (replay after a restart).
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from contextlib import closing
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from ledger.persistence.url import DatabaseURL

TABLE = "ledger_logout_jti"


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class JtiStore(ABC):
    """Remembers logout token ids until they expire."""

    @abstractmethod
    def remember(self, issuer: str, jti: str, *, until: datetime, now: datetime) -> bool:
        """Record (issuer, jti); False when it was already recorded (a replay)."""

    @abstractmethod
    def forget(self, issuer: str, jti: str) -> None:
        """Drop (issuer, jti) again (the logout it carried could not be recorded)."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


class SQLiteJtiStore(JtiStore):
    """Seen ids in the SQLite events file."""

    def __init__(self, url: DatabaseURL) -> None:
        assert url.path is not None
        self.path = url.path
        with closing(self._connect()) as conn, conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (issuer TEXT NOT NULL, jti TEXT NOT NULL,"
                " expires_at INTEGER NOT NULL, PRIMARY KEY (issuer, jti))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def remember(self, issuer: str, jti: str, *, until: datetime, now: datetime) -> bool:
        """Insert, purging expired ids first."""
        with closing(self._connect()) as conn, conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE expires_at < ?", (_us(now),))  # noqa: S608
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} VALUES (?, ?, ?)",  # noqa: S608
                (issuer, jti, _us(until)),
            )
            return cursor.rowcount == 1

    def forget(self, issuer: str, jti: str) -> None:
        """Delete the row."""
        with closing(self._connect()) as conn, conn:
            conn.execute(f"DELETE FROM {TABLE} WHERE issuer = ? AND jti = ?", (issuer, jti))  # noqa: S608


class PostgresJtiStore(JtiStore):
    """Seen ids in the PostgreSQL events database (schema of the URL)."""

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.table = sql.Identifier(url.schema, TABLE)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        with self._lock:
            self._connection().execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (issuer text NOT NULL, jti text NOT NULL,"
                    " expires_at bigint NOT NULL, PRIMARY KEY (issuer, jti))"
                ).format(self.table)
            )

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            info: dict[str, Any] = dict(self.url.conninfo())
            self._conn = psycopg.connect(**info, autocommit=True, connect_timeout=5)
        return self._conn

    def remember(self, issuer: str, jti: str, *, until: datetime, now: datetime) -> bool:
        """Insert, purging expired ids first."""
        with self._lock:
            conn = self._connection()
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE expires_at < %s").format(self.table), (_us(now),)
            )
            cursor = conn.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s, %s) ON CONFLICT DO NOTHING").format(
                    self.table
                ),
                (issuer, jti, _us(until)),
            )
            return cursor.rowcount == 1

    def forget(self, issuer: str, jti: str) -> None:
        """Delete the row."""
        with self._lock:
            self._connection().execute(
                sql.SQL("DELETE FROM {} WHERE issuer = %s AND jti = %s").format(self.table),
                (issuer, jti),
            )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def open_jti_store(url: DatabaseURL) -> JtiStore:
    """The store for this database (its table created when missing)."""
    return SQLiteJtiStore(url) if url.kind == "sqlite" else PostgresJtiStore(url)
