"""One read snapshot of a views database, streamed: what `verify` compares.

SQLite: a read transaction (WAL keeps it stable while writers go on). PostgreSQL: a
REPEATABLE READ transaction with server-side cursors, so rows stream in constant memory.
Values come back normalised (keys as hex, JSON as canonical text) so that the same row
compares equal whichever database it was read from. Tests: tests/replay/test_verify.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from typing import Any
from uuid import UUID

import orjson
import psycopg

from ledger.errors import ConfigError
from ledger.persistence.url import DatabaseURL
from ledger.projections.rows import JSON_COLUMNS

_cursor_names = count()


def plain(column: str, value: Any) -> Any:
    """A stored value in a form that compares equal across databases."""
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, memoryview | bytes):
        return bytes(value).hex()
    if column in JSON_COLUMNS and isinstance(value, str):
        value = orjson.loads(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


class Snapshot:
    """A read transaction on the views database."""

    def __init__(self, url: DatabaseURL, conn: Any) -> None:
        self.url, self.conn = url, conn

    @classmethod
    @contextmanager
    def open(
        cls, url: DatabaseURL, *, setting: str = "LEDGER_VIEWS_DATABASE_URL"
    ) -> Iterator[Snapshot]:
        """Begin the snapshot (ConfigError naming `setting` if the database is unreachable)."""
        if url.is_postgres:
            try:
                conn: Any = psycopg.connect(**url.conninfo(), connect_timeout=5)
            except psycopg.Error as e:
                raise ConfigError(setting, f"cannot connect to {url.redacted()}: {e}") from None
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            conn = sqlite3.connect(str(url.path), timeout=10, isolation_level=None)
            conn.execute("BEGIN")
        try:
            yield cls(url, conn)
        finally:
            conn.rollback() if url.is_postgres else conn.execute("ROLLBACK")
            conn.close()

    def scalar(self, statement: str) -> Any:
        """The first column of the first row of `statement`."""
        row = self.conn.execute(statement).fetchone()
        return row[0] if row else None

    def primary_key(self, table: str) -> list[str]:
        """The primary-key columns of `table` (as written in SQL), in key order."""
        if not self.url.is_postgres:
            info = self.conn.execute(f"PRAGMA table_info({table})").fetchall()
            return [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        rows = self.conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
            " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary"
            " ORDER BY array_position(i.indkey::int2[], a.attnum)",
            (table,),
        ).fetchall()
        return [r[0] for r in rows]

    def rows(self, table: str, key: list[str]) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        """The column names of `table` and its rows in key order, normalised, streamed."""
        statement = f"SELECT * FROM {table} ORDER BY {', '.join(key)}"
        if self.url.is_postgres:
            cursor = self.conn.cursor(name=f"verify_{next(_cursor_names)}")
            cursor.itersize = 2000
            cursor.execute(statement)
        else:
            cursor = self.conn.execute(statement)
        columns = [d[0] for d in cursor.description]
        rows = (tuple(plain(c, v) for c, v in zip(columns, r, strict=True)) for r in cursor)
        return columns, rows
