"""View storage on SQLite and PostgreSQL: one SQL text for both, thin adapters per database.

A view is a `TrackingRecorder` (so the library's `ProjectionRunner` can drive it) whose rows
and tracking position live in tables named with an optional prefix; a rebuild fills prefixed
scratch tables, then `swap_in` replaces the live ones in one transaction.
Tests: tests/integration/test_views_contract.py.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_loads

from ledger.names import LOG_NAME, tracking_table


class ViewStorage(TrackingRecorder):
    """What a view needs from its database, whichever it is."""

    dialect: str
    name: str  # the projection's name: tables are f"{prefix}{name}..."
    prefix: str

    @abstractmethod
    def create_table(self) -> None:
        """Create the tracking table and the view's tables if missing (the recorder's own)."""

    @abstractmethod
    def view_ddl(self) -> list[str]:
        """CREATE TABLE/INDEX IF NOT EXISTS statements of the view's own tables."""

    @abstractmethod
    def view_tables(self) -> list[str]:
        """The view's own tables (without prefix), children first."""

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
    def swap_in(self, scratch: Any, fill: Fill) -> None:
        """Replace the live tables by the scratch view's (tracking included), atomically.

        Under a lock that holds the live view's writers, the scratch view is first brought to
        the live view's position with `fill(after, upto)` (the log's events in that range),
        in the same transaction: no event is lost or applied twice, however fast the live
        view moves.
        """

    @abstractmethod
    def drop_tables(self) -> None:
        """Drop this view's tables (and tracking table): used for scratch views."""


Fill = Callable[[int, int], list[Any]]


def _use_orjson_for_jsonb() -> None:
    """Decode jsonb columns with orjson (psycopg's default is the slower stdlib json)."""
    set_json_loads(orjson.loads)


def _tracked(c: Any, view: Any) -> int:
    """A view's tracking position, read through cursor `c` (0 when none)."""
    if view.dialect == "sqlite":
        c.execute(view.select_max_tracking_id_statement, (LOG_NAME,))
        return int(c.fetchone()[0] or 0)
    c.execute(view.max_tracking_id_statement, (LOG_NAME,))
    return int(c.fetchone()["max"] or 0)


def _catch_up_in(c: Any, live: Any, scratch: Any, fill: Fill) -> None:
    """Bring `scratch` to `live`'s position inside the caller's (locked) transaction."""
    from ledger.projections.deltas import fold  # noqa: PLC0415

    live_at, scratch_at = _tracked(c, live), _tracked(c, scratch)
    if live_at > scratch_at:
        events = fill(scratch_at, live_at)
        scratch.apply_rows(c, fold(events), Tracking(LOG_NAME, live_at))


class _QMarkCursor:
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

    def swap_in(self, scratch: Any, fill: Fill) -> None:
        """Under SQLite's write lock: catch the scratch view up, drop live, rename scratch."""
        tables = [*self.view_tables(), tracking_table(self.name)]
        with self.datastore.get_connection(commit=True) as conn:
            c = conn.cursor()
            c.execute("BEGIN IMMEDIATE")
            try:
                _catch_up_in(c, self, scratch, fill)
                for table in tables:
                    c.execute(f"DROP TABLE IF EXISTS {self.prefix}{table}")
                for table in tables:
                    c.execute(f"ALTER TABLE {scratch.prefix}{table} RENAME TO {self.prefix}{table}")
                c.execute("SELECT name FROM sqlite_master WHERE type='index'")
                for row in c.fetchall():
                    if row[0].startswith(scratch.prefix):
                        c.execute(f"DROP INDEX IF EXISTS {row[0]}")
                for statement in self.view_ddl():
                    c.execute(statement)
                conn.commit()
            except BaseException:
                conn.rollback()
                raise

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
            yield _QMarkCursor(cursor)

    def write_tracking(self, cursor: Any, tracking: Tracking) -> None:
        """Record the position in the same transaction (raises if already recorded)."""
        self._insert_tracking(cursor.raw, tracking)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A cursor on an autocommit connection (one statement, one round trip)."""
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            yield _QMarkCursor(cursor)

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

    def swap_in(self, scratch: Any, fill: Fill) -> None:
        """Lock the live tracking table, catch the scratch view up, swap tables and indexes."""
        schema = self.datastore.schema
        tables = [*self.view_tables(), tracking_table(self.name)]
        with self.datastore.transaction(commit=True) as c:
            live_tracking = sql.Identifier(schema, self.tracking_table_name)
            c.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(live_tracking))
            _catch_up_in(_QMarkCursor(c), self, scratch, fill)
            self._swap_tables(c, scratch.prefix, tables)

    def _swap_tables(self, c: Any, scratch_prefix: str, tables: list[str]) -> None:
        schema = self.datastore.schema
        for table in tables:
            c.execute(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(schema, self.prefix + table)
                )
            )
        for table in tables:
            c.execute(
                sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(schema, scratch_prefix + table),
                    sql.Identifier(self.prefix + table),
                )
            )
        c.execute("SELECT indexname FROM pg_indexes WHERE schemaname=%s", (schema,))
        for row in c.fetchall():
            old = row["indexname"]
            if old.startswith(scratch_prefix):
                c.execute(
                    sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                        sql.Identifier(schema, old),
                        sql.Identifier(self.prefix + old[len(scratch_prefix) :]),
                    )
                )

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
