"""View storage on SQLite and PostgreSQL: one SQL text for both, thin adapters per database.

A view is a `TrackingRecorder` (so the library's `ProjectionRunner` can drive it) whose rows
and tracking position live in tables named with an optional prefix; a rebuild fills prefixed
scratch tables, then `ledger.projections.swap` replaces the live ones in one transaction.
Tests: tests/integration/test_views_contract.py.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_loads

from ledger.names import tracking_table
from ledger.persistence.async_reads import AsyncReads


class ViewStorage(TrackingRecorder):
    """What a view needs from its database, whichever it is."""

    dialect: str
    name: str  # the projection's name: tables are f"{prefix}{name}..."
    prefix: str
    async_reads: AsyncReads | None = None  # set by the API while it serves (PostgreSQL)

    @abstractmethod
    def create_table(self) -> None:
        """Create the tracking table and the view's tables if missing (the recorder's own)."""

    @abstractmethod
    def view_ddl(self) -> list[str]:
        """CREATE TABLE/INDEX IF NOT EXISTS statements of the view's own tables."""

    @abstractmethod
    def view_tables(self) -> list[str]:
        """The view's own tables (without prefix), children first."""

    def location(self) -> str:
        """Where this view's tracking lives (its database, schema and table): the same for
        every storage object of this view in this process."""
        store: Any = self.datastore  # type: ignore[attr-defined]
        pool = store.pool
        kwargs = getattr(pool, "kwargs", {})
        server = [kwargs.get(k) for k in ("host", "port", "dbname")]
        where = getattr(pool, "db_name", None) or server
        table = tracking_table(self.name, prefix=self.prefix)
        return f"{where}|{getattr(store, 'schema', '')}|{table}"

    def t(self, table: str) -> str:
        """The qualified name of one of the view's tables."""
        return self.qualify(self.prefix + table)

    @abstractmethod
    def qualify(self, table: str) -> str:
        """`table` as it is written in SQL (schema-qualified on PostgreSQL)."""

    @abstractmethod
    @contextmanager
    def txn(self, *, commit: bool) -> Iterator[Any]:
        """A cursor in a transaction; `execute(sql, params)` takes `?` placeholders."""

    @abstractmethod
    @contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor for one SELECT (autocommit: no BEGIN/ROLLBACK round trips)."""

    def fetch(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """The rows of one SELECT (`?` placeholders), on this thread."""
        with self.read() as c:
            c.execute(statement, params)
            rows: list[Any] = c.fetchall()
            return rows

    async def fetch_async(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """`fetch` awaited: on the async pool when the API opened one, else in a thread."""
        reads = self.async_reads
        if reads is not None:
            return await reads.fetchall(statement, params)
        return await asyncio.to_thread(self.fetch, statement, params)

    @abstractmethod
    def key(self, value: UUID) -> Any:
        """A session key as the database stores it."""

    @abstractmethod
    def json_param(self, value: Any) -> Any:
        """A JSON value as a statement parameter."""

    @abstractmethod
    def json_value(self, value: Any) -> Any:
        """A JSON column's value as Python data."""

    def greatest(self) -> str:
        """The SQL function returning the larger of its arguments."""
        return "MAX" if self.dialect == "sqlite" else "GREATEST"

    def least(self) -> str:
        """The SQL function returning the smaller of its arguments."""
        return "MIN" if self.dialect == "sqlite" else "LEAST"

    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Record the position in the same transaction (raises if already recorded)."""
        self._insert_tracking(cursor, tracking)  # type: ignore[attr-defined]

    def bulk_insert(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert many rows in the caller's transaction."""
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    @abstractmethod
    def drop_tables(self) -> None:
        """Drop this view's tables (and tracking table): used for scratch views."""


def _use_orjson_for_jsonb() -> None:
    """Decode jsonb columns with orjson (psycopg's default is the slower stdlib json)."""
    set_json_loads(orjson.loads)


class QMarkCursor:
    """A psycopg cursor that accepts `?` placeholders."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, statement: Any, params: Sequence[Any] | None = None) -> None:
        if isinstance(statement, str):
            statement = statement.replace("?", "%s")
        self._cursor.execute(statement, params, prepare=bool(params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(statement.replace("?", "%s"), rows)

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    @property
    def raw(self) -> Any:
        return self._cursor


class SQLiteViewStorage(SQLiteTrackingRecorder, ViewStorage):
    """A view in an SQLite file, with a tracking table of its own."""

    dialect = "sqlite"

    def __init__(self, datastore: SQLiteDatastore, *, prefix: str = "", **kwargs: Any) -> None:
        self.prefix = prefix
        self.tracking_table = tracking_table(self.name, prefix=prefix)
        super().__init__(datastore, **kwargs)
        self.insert_tracking_statement = (
            f"INSERT INTO {self.tracking_table} VALUES (:application_name, :notification_id) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = :notification_id "
            f"WHERE {self.tracking_table}.notification_id < :notification_id "
            "RETURNING notification_id"
        )
        self.select_max_tracking_id_statement = (
            f"SELECT MAX(notification_id) FROM {self.tracking_table} WHERE application_name=?"
        )

    def construct_create_table_statements(self) -> list[str]:
        """The tracking table and the view's tables."""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.tracking_table} (application_name TEXT, "
            "notification_id INTEGER, PRIMARY KEY (application_name)) WITHOUT ROWID",
            *self.view_ddl(),
        ]

    def qualify(self, table: str) -> str:
        """SQLite tables are not schema-qualified."""
        return table

    @contextmanager
    def txn(self, *, commit: bool) -> Iterator[Any]:
        """An SQLite transaction (readers see one consistent snapshot)."""
        with self.datastore.transaction(commit=commit) as cursor:
            yield cursor

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor in autocommit mode (one statement is its own snapshot)."""
        with self.datastore.get_connection(commit=False) as conn:
            cursor = conn.cursor()
            try:
                yield cursor
            finally:
                cursor.sqlite_cursor.close()

    def key(self, value: UUID) -> str:
        """Keys are stored as 32 hex digits."""
        return value.hex

    def json_param(self, value: Any) -> Any:
        """JSON is stored as text."""
        return orjson.dumps(value).decode()

    def json_value(self, value: Any) -> Any:
        """JSON text back to Python."""
        return orjson.loads(value) if value is not None else None

    def drop_tables(self) -> None:
        """Drop the tables of this (scratch) view."""
        with self.datastore.transaction(commit=True) as c:
            for table in [*self.view_tables(), tracking_table(self.name)]:
                c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")


class PostgresViewStorage(PostgresTrackingRecorder, ViewStorage):
    """A view in PostgreSQL (possibly another database than the events)."""

    dialect = "postgresql"

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "",
        prefix: str = "",
        **kwargs: Any,
    ) -> None:
        self.prefix = prefix
        tracking = tracking_table(self.name, prefix=prefix)
        super().__init__(datastore, tracking_table_name=tracking, **kwargs)
        for statement in self.view_ddl():
            self.sql_create_statements.append(sql.SQL(statement))  # type: ignore[arg-type]
        _use_orjson_for_jsonb()

    def qualify(self, table: str) -> str:
        """Schema-qualified, quoted."""
        return f'"{self.datastore.schema}"."{table}"'

    @contextmanager
    def txn(self, *, commit: bool) -> Iterator[Any]:
        """A PostgreSQL transaction (REPEATABLE READ when reading: one snapshot)."""
        with self.datastore.transaction(commit=commit) as cursor:
            if not commit:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield QMarkCursor(cursor)

    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Record the position in the same transaction (raises if already recorded)."""
        self._insert_tracking(cursor.raw, tracking)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor on an autocommit connection (one statement, one round trip)."""
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            yield QMarkCursor(cursor)

    def key(self, value: UUID) -> UUID:
        """Keys are stored as uuid."""
        return value

    def bulk_insert(
        self, cursor: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """COPY the rows in (one statement however many rows; constraints still apply)."""
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.SQL(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with cursor.raw.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def json_param(self, value: Any) -> Any:
        """JSON is stored as jsonb."""
        return Jsonb(value)

    def json_value(self, value: Any) -> Any:
        """jsonb comes back as Python data already."""
        return value

    def drop_tables(self) -> None:
        """Drop the tables of this (scratch) view."""
        schema = self.datastore.schema
        with self.datastore.transaction(commit=True) as c:
            for table in [*self.view_tables(), tracking_table(self.name)]:
                c.execute(
                    sql.SQL("DROP TABLE IF EXISTS {}").format(
                        sql.Identifier(schema, self.prefix + table)
                    )
                )
