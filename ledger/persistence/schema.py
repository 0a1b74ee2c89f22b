"""Reachability and schema checks run before the ledger touches a database.

`prepare_database` turns an unreachable server, a file that is not SQLite, or a database
written by an incompatible ledger into one ConfigError naming the setting.
Tests: tests/integration/test_startup_errors.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager

import psycopg
from psycopg import sql

from ledger.errors import ConfigError
from ledger.names import LOG_NAME
from ledger.persistence.url import DatabaseURL

SCHEMA_VERSION = 1
META_TABLE = "ledger_meta"
EVENT_COLUMNS = {"originator_id", "originator_version", "topic", "state"}


def events_table(url: DatabaseURL, app_name: str = LOG_NAME) -> str:
    """The name the library gives the events table on this backend."""
    return "stored_events" if url.kind == "sqlite" else f"{app_name.lower()}_events"


@contextmanager
def pg_connect(
    url: DatabaseURL, *, setting: str, autocommit: bool = True
) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A psycopg connection, or ConfigError saying why there is none."""
    try:
        conn = psycopg.connect(url.dsn(), connect_timeout=5, autocommit=autocommit)
    except psycopg.Error as e:
        reason = " ".join(line.strip() for line in str(e).splitlines() if line.strip())
        reason = reason or type(e).__name__
        raise ConfigError(setting, f"cannot connect to {url.redacted()}: {reason}") from None
    with conn:
        yield conn


@contextmanager
def creation_lock(url: DatabaseURL, *, setting: str = "LEDGER_DATABASE_URL") -> Iterator[None]:
    """Held while a process checks and creates its tables: processes starting together (the
    workers of one `ledger serve`) take turns, instead of one failing with PostgreSQL's
    "tuple concurrently updated" on a DDL statement another runs at the same moment (on
    SQLite, with the library's "Failed to record tracking for __migration__"). PostgreSQL: an
    advisory lock; SQLite: a file lock beside the database file."""
    if url.kind == "sqlite":
        assert url.path is not None
        _make_folder(url, setting)
        try:
            handle = open(f"{url.path}.schema.lock", "a+b")  # noqa: SIM115
        except OSError as e:
            raise ConfigError(setting, f"cannot use {url.path.parent}: {e.strerror}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    key = zlib.crc32(f"ledger-schema:{url.dbname}:{url.schema}".encode())
    with pg_connect(url, setting=setting) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            with contextlib.suppress(psycopg.Error):
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def prepare_database(url: DatabaseURL, *, setting: str = "LEDGER_DATABASE_URL") -> bool:
    """Check the database can be used by this ledger and record its schema version.

    Returns whether this connection may create tables (False for an insert-only role on an
    initialised PostgreSQL schema: the ledger then uses the tables `ledger db init` made).
    """
    if url.kind == "sqlite":
        _prepare_sqlite(url, setting)
        return True
    return _prepare_postgres(url, setting)


def _check_version(found: str | None, has_events: bool, columns: set[str], setting: str) -> None:
    if found is not None and found != str(SCHEMA_VERSION):
        raise ConfigError(
            setting,
            f"database was written by ledger schema version {found}; "
            f"this ledger reads version {SCHEMA_VERSION}",
        )
    if found is None and has_events and not columns >= EVENT_COLUMNS:
        raise ConfigError(
            setting, "database holds an events table the ledger did not create (other columns)"
        )


def _make_folder(url: DatabaseURL, setting: str) -> None:
    assert url.path is not None
    try:
        url.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            setting, f"cannot create folder {url.path.parent}: {e.strerror}"
        ) from None


def _prepare_sqlite(url: DatabaseURL, setting: str) -> None:
    assert url.path is not None
    _make_folder(url, setting)
    try:
        with closing(sqlite3.connect(url.path, timeout=10)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            found = None
            if META_TABLE in tables:
                row = conn.execute(
                    f"SELECT value FROM {META_TABLE} WHERE key='schema_version'"  # noqa: S608
                ).fetchone()
                found = row[0] if row else None
            columns: set[str] = set()
            if "stored_events" in tables:
                columns = {r[1] for r in conn.execute("PRAGMA table_info(stored_events)")}
            _check_version(found, "stored_events" in tables, columns, setting)
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT)"
            )
            conn.execute(
                f"INSERT OR IGNORE INTO {META_TABLE} VALUES ('schema_version', ?)",  # noqa: S608
                (str(SCHEMA_VERSION),),
            )
            conn.commit()
    except sqlite3.DatabaseError as e:
        raise ConfigError(setting, f"{url.path} is not a usable SQLite database: {e}") from None


def _prepare_postgres(url: DatabaseURL, setting: str) -> bool:
    table = events_table(url)
    with pg_connect(url, setting=setting) as conn:
        # An insert-only role may not create it: `ledger db init` made the schema.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(url.schema))
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_namespace WHERE nspname = %s", (url.schema,)
        ).fetchone()
        if not exists:
            raise ConfigError(
                setting,
                f"schema {url.schema!r} does not exist and role {url.user!r} may not create it",
            )
        meta = sql.Identifier(url.schema, META_TABLE)
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{url.schema}.{META_TABLE}",)
        ).fetchone()
        found = None
        if exists and exists[0]:
            row = conn.execute(
                sql.SQL("SELECT value FROM {} WHERE key='schema_version'").format(meta)
            ).fetchone()
            found = str(row[0]) if row else None
        columns = {
            str(r[0])
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema=%s AND table_name=%s",
                (url.schema, table),
            )
        }
        _check_version(found, bool(columns), columns, setting)
        row = conn.execute(
            "SELECT has_schema_privilege(current_user, %s, 'CREATE')", (url.schema,)
        ).fetchone()
        can_create = bool(row and row[0])
        if not can_create:
            if found is None:
                raise ConfigError(
                    setting,
                    f"role {url.user!r} may not create tables in schema {url.schema!r}, "
                    "and the ledger is not initialised there: run `ledger db init` as its owner",
                )
            return False
        if found is None:
            conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, value text)").format(
                    meta
                )
            )
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES ('schema_version', %s) ON CONFLICT DO NOTHING"
                ).format(meta),
                (str(SCHEMA_VERSION),),
            )
    return True


def grant_insert_only(
    url: DatabaseURL, role: str, *, view_tables: list[str], append_only_tables: Sequence[str] = ()
) -> None:
    """Let `role` append and read events and seals (never change them), maintain the views."""
    events = events_table(url)
    snapshots = events.replace("_events", "_snapshots")
    schema = sql.Identifier(url.schema)
    who = sql.Identifier(role)
    with pg_connect(url, setting="LEDGER_DATABASE_URL") as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, who))
        for table in (events, snapshots, META_TABLE, *append_only_tables):
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
                    sql.Identifier(url.schema, table), who
                )
            )
        conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(schema, who))
        for table in view_tables:
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                    sql.Identifier(url.schema, table), who
                )
            )
