"""Reads awaited on the event loop: psycopg's `AsyncConnectionPool`, one per views database.

The API's hot GET handlers (a user's sessions, my sessions, one session's status) await their
one SELECT here instead of taking a worker thread per request: on a busy loop each round trip
of a worker thread first has to win the GIL back (bench H1). The pool keeps the time bounds of
the sync pools (`ledger.persistence.pools`): a request waits at most `LEDGER_DB_POOL_WAIT_S`
for a connection, a lost connection is re-tried for at most `LEDGER_DB_RECONNECT_S`, a new
one gives up after `LEDGER_DB_CONNECT_TIMEOUT_S`; it holds at most `LEDGER_PG_POOL_SIZE`
connections. It answers to the database's gate (`ledger.persistence.gate`) like them: while
the gate is closed a read raises `DatabaseUnavailable` at once; a connection failure asks the
gate in a worker thread (its verdict may take up to `VERDICT_S`), so the loop never blocks.
Connections are autocommit (one statement, one round trip), statements prepared.
Tests: tests/api/test_async_reads.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from ledger.persistence.gate import DatabaseGate, gate_for, is_connection_failure
from ledger.persistence.url import DatabaseURL


class AsyncReads:
    """Autocommit SELECTs with `?` placeholders on an async pool, behind the database's gate."""

    def __init__(self, url: DatabaseURL, *, max_size: int) -> None:
        conninfo = url.conninfo()
        self.gate: DatabaseGate = gate_for(conninfo, connect_timeout_s=url.connect_timeout_s)
        self.pool: AsyncConnectionPool[AsyncConnection[DictRow]] = AsyncConnectionPool(
            kwargs={
                **conninfo,
                "connect_timeout": url.connect_timeout_s,
                "autocommit": True,
                "row_factory": dict_row,
            },
            connection_class=AsyncConnection[DictRow],
            min_size=1,
            max_size=max(1, max_size),
            timeout=url.pool_wait_s,
            reconnect_timeout=url.reconnect_s,
            open=False,
            name="ledger-async-reads",
        )

    async def open(self) -> None:
        """Start connecting in the background (a database away now does not stop startup)."""
        await self.pool.open(wait=False)

    async def close(self) -> None:
        """Close every connection."""
        await self.pool.close()

    async def fetchall(self, statement: str, params: Sequence[Any]) -> list[DictRow]:
        """The rows of one SELECT; `DatabaseUnavailable` at once while the database is away.

        A connection that broke while the database stayed up (a restart shorter than the
        gate's notice) is dropped by the pool; the read is tried once more after the pool
        has checked its idle connections.
        """
        query = statement.replace("?", "%s")
        for attempt in (1, 2):
            self.gate.check()
            try:
                async with self.pool.connection() as conn:
                    cursor = await conn.execute(query, params, prepare=True)
                    return await cursor.fetchall()
            except (psycopg.OperationalError, psycopg.InterfaceError) as e:
                failure: BaseException = e
                if not is_connection_failure(e):
                    raise
            # off the loop: the gate's verdict may take up to VERDICT_S; raises when away
            await asyncio.to_thread(self.gate.suspect, failure)
            if attempt == 1:
                await self.pool.check()
        raise failure


def async_reads_for(url: DatabaseURL, *, max_size: int) -> AsyncReads | None:
    """An (unopened) async pool for the views database at `url`; None for SQLite, whose reads
    stay in worker threads (a file has no async driver worth the name)."""
    return AsyncReads(url, max_size=max_size) if url.is_postgres else None
