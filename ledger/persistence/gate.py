"""Fail fast while a database is away: one gate per PostgreSQL database, shared by its pools.

* A connection-level failure (a refused or broken connection, a pool that hands out no
  connection in time) makes the gate probe the database at once with a fresh connection
  (one probe at a time: concurrent suspicions share its verdict, and wait for it at most
  `VERDICT_S`, past which that request alone is refused). When the probe fails too, the
  gate closes: from then on every
  `get_connection` on that database raises `DatabaseUnavailable` at once, naming the cause,
  instead of waiting for the pool and the library's retries (ten attempts, each waiting for
  the pool). The API answers 503 within milliseconds; the error is not retried.
* While closed, a watcher thread probes every `PROBE_INTERVAL_S`; when the database answers,
  every pool of that database drops its broken connections (`pool.check()`) and the gate
  opens again: the service serves within about a second of the database's return, whatever
  the outage's length (the pools' own reconnection schedule, 1, 2, 4 ... s, is cut short by
  their `reconnect_timeout`, see `ledger.persistence.pools`).
* `database_problem` says what `/readyz` reports: a closed gate, or a (nearly) full disk
  under an SQLite file.
Tests: tests/faults/test_gate.py, tests/faults/test_postgres_faults.py.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.persistence.url import DatabaseURL

log = logging.getLogger("ledger.persistence")
PROBE_INTERVAL_S = 0.25
VERDICT_S = 0.75
"""How long a request that met a connection failure waits for the probe's verdict (libpq's
own connect timeout cannot be under 2 s; a request must be answered within 2 s)."""
RECENT_S = 0.5
"""A probe that succeeded this recently stands for the next suspicions (a busy pool's timeouts
must not become a probe each)."""
MIN_FREE_BYTES = 1 << 20
"""Below this much free space under an SQLite file, the ledger reports itself not ready."""
FULL_MESSAGES = ("too many clients", "too many connections", "connection slots are reserved")
"""PostgreSQL's refusals for want of connection slots (SQLSTATE 53300, which libpq's
connection errors do not carry)."""
UNREACHABLE = "the database is not reachable"
DISK_FULL = "the database's disk is full"


class DatabaseUnavailable(PersistenceError):
    """The database is known to be away: refused at once, not retried."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"{UNREACHABLE}: {cause}")
        self.cause = cause


def is_connection_failure(error: BaseException) -> bool:
    """True for an error of the connection itself (not of a statement)."""
    if isinstance(error, PoolTimeout):
        return True
    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        state = error.sqlstate
        # no SQLSTATE: the connection broke; 08: connection exception; 57P: shutdown/startup
        return state is None or state.startswith(("08", "57P"))
    return False


def is_disk_full(error: BaseException) -> bool:
    """True when `error` (or what caused it) says the database's disk is full."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, psycopg.errors.DiskFull):
            return True
        if "database or disk is full" in str(seen):  # SQLite's SQLITE_FULL
            return True
        seen = seen.__cause__
    return False


class DatabaseGate:
    """Whether one PostgreSQL database answers, decided by probing it with a fresh connection."""

    def __init__(self, conninfo: dict[str, Any], *, connect_timeout_s: int) -> None:
        self.conninfo = {**conninfo, "connect_timeout": connect_timeout_s, "autocommit": True}
        self.cause: str | None = None
        self.down_since: float | None = None
        self._answered_at = 0.0  # when a probe last succeeded
        self._probing = threading.Lock()
        self._verdict: Future[str | None] | None = None
        self._pools: weakref.WeakSet[ConnectionPool[Any]] = weakref.WeakSet()

    @property
    def is_down(self) -> bool:
        """True while the database is known to be away."""
        return self.down_since is not None

    def register(self, pool: ConnectionPool[Any]) -> None:
        """Check `pool`'s connections when the database comes back."""
        self._pools.add(pool)

    def check(self) -> None:
        """Raise `DatabaseUnavailable` while the database is known to be away."""
        cause = self.cause
        if self.down_since is not None and cause is not None:
            raise DatabaseUnavailable(cause)

    def suspect(self, error: BaseException) -> None:
        """After a connection failure: probe now; raise `DatabaseUnavailable` if it is away.

        The caller waits at most `VERDICT_S` for the probe's verdict; past it, this request is
        refused (it met a connection failure already) while the probe goes on and decides for
        the others: a slow connection on a busy server must not close the gate for everyone.
        """
        if self.down_since is None and time.monotonic() - self._answered_at >= RECENT_S:
            verdict = self._shared_probe(error)
            try:
                cause = verdict.result(timeout=VERDICT_S)
            except FutureTimeout:
                raise DatabaseUnavailable(f"no connection within {VERDICT_S} s") from error
            if cause is None:
                return
        self.check()

    def _shared_probe(self, error: BaseException) -> Future[str | None]:
        """The probe under way, or a new one in its own thread (suspicions share its verdict);
        the probe's thread records the verdict: closes the gate, or notes the answer."""
        with self._probing:
            if self._verdict is None or self._verdict.done():
                verdict: Future[str | None] = Future()
                self._verdict = verdict

                def run() -> None:
                    try:
                        cause = self.probe()
                    except Exception as e:  # whatever stops a probe is its verdict
                        cause = f"{type(e).__name__}: {e}"
                    with self._probing:
                        if cause is None:
                            self._answered_at = time.monotonic()
                        elif self.down_since is None:
                            self._close(cause, error)
                    verdict.set_result(cause)

                threading.Thread(target=run, name="ledger-db-probe", daemon=True).start()
            return self._verdict

    def probe(self) -> str | None:
        """None when a fresh connection answers, else why not."""
        try:
            with psycopg.connect(**self.conninfo) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as e:
            if e.sqlstate == "53300" or any(text in str(e) for text in FULL_MESSAGES):
                return None  # it answers, it is full: an overload, not an outage
            return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return None

    def _close(self, cause: str, error: BaseException) -> None:
        log.warning("database away (%s; after %s); refusing at once until it answers", cause, error)
        self.cause, self.down_since = cause, time.monotonic()
        threading.Thread(target=self._watch, name="ledger-db-gate", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(PROBE_INTERVAL_S)
            if self.probe() is None:
                break
        for pool in list(self._pools):
            with contextlib.suppress(Exception):  # a closed pool: nothing to check
                pool.check()
        away = time.monotonic() - (self.down_since or time.monotonic())
        log.warning("database back after %.1f s", away)
        self.down_since, self.cause = None, None


_gates: dict[tuple[str, int, str], DatabaseGate] = {}
_gates_lock = threading.Lock()


def gate_for(conninfo: dict[str, Any], *, connect_timeout_s: int = 2) -> DatabaseGate:
    """The process-wide gate of the database `conninfo` names (host, port, dbname)."""
    key = (str(conninfo.get("host")), int(conninfo.get("port") or 5432), str(conninfo["dbname"]))
    with _gates_lock:
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = DatabaseGate(conninfo, connect_timeout_s=connect_timeout_s)
        return gate


def known_gate(conninfo: dict[str, Any]) -> DatabaseGate | None:
    """The gate of a database this process uses, if any."""
    key = (str(conninfo.get("host")), int(conninfo.get("port") or 5432), str(conninfo["dbname"]))
    with _gates_lock:
        return _gates.get(key)


def database_problem(url: DatabaseURL) -> str | None:
    """Why the database at `url` cannot serve, as far as this process knows, or None.

    PostgreSQL: the gate's verdict (no I/O). SQLite: a full disk under the file.
    """
    if url.is_postgres:
        gate = known_gate(url.conninfo())
        return f"{UNREACHABLE} ({gate.cause})" if gate is not None and gate.cause else None
    assert url.path is not None
    return storage_problem(url.path)


def storage_problem(path: Path) -> str | None:
    """`DISK_FULL` when the filesystem under an SQLite file has less than `MIN_FREE_BYTES`."""
    folder = path.parent if str(path.parent) else Path()
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    return DISK_FULL if stat.f_bavail * stat.f_frsize < MIN_FREE_BYTES else None
