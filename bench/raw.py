"""Raw baselines on the same database server or file: what the hardware and driver allow.

The raw table has the events table's shape (uuid, version, topic, state, notification id, the
same two unique indexes), so a raw row costs what an event row costs, without the ledger's
work. Inserts commit one row each (autocommit: one round trip, the cheapest single-row commit).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from typing import Any

import psycopg

from bench.core import Throughput, run_clients
from ledger.persistence.url import DatabaseURL

PG_DDL = (
    "CREATE TABLE IF NOT EXISTS raw_events (originator_id uuid NOT NULL,"
    " originator_version bigint NOT NULL, topic text, state bytea,"
    " notification_id bigserial, PRIMARY KEY (originator_id, originator_version));"
    " CREATE UNIQUE INDEX IF NOT EXISTS raw_events_nid ON raw_events (notification_id)"
)
SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS raw_events (originator_id TEXT NOT NULL,"
    " originator_version INTEGER NOT NULL, topic TEXT, state BLOB,"
    " notification_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " UNIQUE (originator_id, originator_version))"
)
TOPIC = "ledger.aggregates.session:Session.Started"


def pg_connect(url: DatabaseURL, **kwargs: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection to `url`."""
    return psycopg.connect(**url.conninfo(), **kwargs)


def sqlite_connect(url: DatabaseURL) -> sqlite3.Connection:
    """A connection configured as the library configures its own (WAL, autocommit)."""
    conn = sqlite3.connect(
        url.path or "", isolation_level=None, check_same_thread=False, timeout=10
    )
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def create_table(url: DatabaseURL) -> None:
    """The raw table (idempotent)."""
    if url.is_postgres:
        with pg_connect(url, autocommit=True) as conn:
            conn.execute(PG_DDL)
        return
    with contextlib.closing(sqlite_connect(url)) as conn:
        conn.execute(SQLITE_DDL)


def single_row_commits(
    url: DatabaseURL, state: bytes, *, clients: int, seconds: float, warmup: float
) -> Throughput:
    """Single-row INSERT+COMMIT per operation from `clients` threads, one connection each."""
    create_table(url)
    local = threading.local()

    def setup(_: int) -> None:
        local.conn = pg_connect(url, autocommit=True) if url.is_postgres else sqlite_connect(url)

    if url.is_postgres:
        statement = (
            "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
            " VALUES (%s, 1, %s, %s)"
        )

        def op(_: int, __: int) -> None:
            local.conn.execute(statement, (uuid.uuid4(), TOPIC, state), prepare=True)

    else:
        statement = (
            "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
            " VALUES (?, 1, ?, ?)"
        )

        def op(_: int, __: int) -> None:
            local.conn.execute(statement, (uuid.uuid4().hex, TOPIC, state))

    return run_clients(op, clients=clients, seconds=seconds, warmup=warmup, setup=setup)


def multi_row_commit(url: DatabaseURL, state: bytes, rows: int, repeats: int) -> list[float]:
    """Latencies of `repeats` transactions that each insert `rows` rows and commit."""
    create_table(url)
    latencies = []
    if url.is_postgres:
        with pg_connect(url) as conn:
            for _ in range(repeats):
                params = [(uuid.uuid4(), TOPIC, state) for _ in range(rows)]
                began = time.perf_counter()
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                        " VALUES (%s, 1, %s, %s)",
                        params,
                    )
                conn.commit()
                latencies.append(time.perf_counter() - began)
        return latencies
    with contextlib.closing(sqlite_connect(url)) as conn:
        for _ in range(repeats):
            hex_params = [(uuid.uuid4().hex, TOPIC, state) for _ in range(rows)]
            began = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO raw_events (originator_id, originator_version, topic, state)"
                " VALUES (?, 1, ?, ?)",
                hex_params,
            )
            conn.execute("COMMIT")
            latencies.append(time.perf_counter() - began)
    return latencies


def ordered_scan(url: DatabaseURL, table: str, *, page: int = 5000) -> tuple[int, float]:
    """Read every row of `table` in notification order into Python: (rows, seconds)."""
    nid = "notification_id" if url.is_postgres else "rowid"
    columns = f"{nid}, originator_id, originator_version, topic, state"
    count = 0
    began = time.perf_counter()
    if url.is_postgres:
        with pg_connect(url) as conn, conn.cursor(name="bench_scan") as cur:
            cur.itersize = page
            cur.execute(f"SELECT {columns} FROM {table} ORDER BY {nid}")
            while rows := cur.fetchmany(page):
                count += len(rows)
    else:
        with contextlib.closing(sqlite_connect(url)) as lite:
            lite_cur = lite.execute(f"SELECT {columns} FROM {table} ORDER BY {nid}")
            while rows := lite_cur.fetchmany(page):
                count += len(rows)
    return count, time.perf_counter() - began
