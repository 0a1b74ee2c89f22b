"""Keeps every follower of the log running: one library runner for them all, supervised.

* One library `BaseProjectionRunner` follows the log for every registered projection, views
  and outbound processes alike (LISTEN/NOTIFY on PostgreSQL, our polling subscription on
  SQLite), reading and decoding each event once (`ledger.projections.fanout`); each projection
  keeps its own view and tracking position. A failure restarts the reader from the lowest
  tracking position, after a delay that doubles while it keeps failing (at most
  `MAX_RESTART_DELAY_S`, so the views resume within about a second of the database's return)
  and starts afresh once the reader has been healthy.
* On PostgreSQL a session advisory lock per projection keeps one runner of it across
  processes; another process waits for the locks (and takes over if the first dies). On
  SQLite a file lock.
* `wait(position)` returns once every view has processed `position` (read-your-writes).
Tests: tests/integration/test_projection_runner.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.projection import BaseProjectionRunner
from eventsourcing.utils import Environment

from ledger.names import LOG_NAME
from ledger.persistence.url import DatabaseURL
from ledger.projections import positions
from ledger.projections.batching import SessionView
from ledger.projections.fanout import FanOut, Member, Starts
from ledger.projections.feed import feed_for
from ledger.projections.registry import PROJECTIONS, ProjectionSpec, view_env

log = logging.getLogger("ledger.projections")
APP_NAME = LOG_NAME  # the tracking key of every projection
RESTART_DELAY_S = 0.25
"""The first restart delay of a failed runner, doubled on each failure in a row..."""
MAX_RESTART_DELAY_S = 1.0
"""...up to this (a failing start costs little: the database gate refuses it at once)."""
HEALTHY_AFTER_S = 1.0
"""A runner that ran this long without failing is healthy: its delay starts afresh."""


class ProjectionLock:
    """Held by the one process that runs a projection (advisory lock or file lock).

    `on_busy` is called each time the lock was found held by another (a test's hook: it
    shows a waiter waiting without sleeping); the next try comes `retry_s` later.
    """

    def __init__(
        self,
        name: str,
        views: DatabaseURL,
        *,
        retry_s: float = 1.0,
        on_busy: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.views = name, views
        self.retry_s, self.on_busy = retry_s, on_busy
        self._conn: psycopg.Connection[Any] | None = None
        self._file: Any = None

    def acquire(self, stop: threading.Event) -> bool:
        """Block until held (True) or until `stop` is set (False)."""
        while not stop.is_set():
            try:
                if self._try():
                    return True
            except psycopg.Error as e:  # the database is away: try again, never give up
                log.warning("projection lock %s: %s", self.name, e)
                self.release()
            else:
                if self.on_busy is not None:
                    self.on_busy()
            stop.wait(self.retry_s)
        return False

    def _try(self) -> bool:
        if self.views.is_postgres:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.views.dsn(), autocommit=True)
            key = zlib.crc32(f"ledger-projection:{self.views.schema}:{self.name}".encode())
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            return bool(row and row[0])
        assert self.views.path is not None
        if self._file is None:
            self._file = open(f"{self.views.path}.{self.name}.lock", "a+b")  # noqa: SIM115
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        """Let another process run the projection."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
        if self._file is not None:
            with contextlib.suppress(Exception):
                fcntl.flock(self._file, fcntl.LOCK_UN)
                self._file.close()
            self._file = None


class ViewRunner:
    """Runs projections (views and processes) in this process over one reader of the log.

    One library runner follows the log for every projection given (`ledger.projections.fanout`:
    each event read and decoded once), each projection keeping its own view and tracking. A
    failure of any restarts the reader from the lowest tracking position of them all; each
    projection's lock is held while its projection runs here (taken in name order, so two
    processes never hold a part each).
    """

    def __init__(
        self,
        specs: ProjectionSpec | Sequence[ProjectionSpec],
        *,
        events: DatabaseURL,
        views: DatabaseURL,
        batch: int = 2000,
        create_tables: bool = True,
    ) -> None:
        given = [specs] if isinstance(specs, ProjectionSpec) else list(specs)
        self.specs = {spec.name: spec for spec in given}
        self.events, self.views = events, views
        self.batch, self.create_tables = batch, create_tables
        self.env = events.library_env(pool_size=1, max_overflow=3)
        self.env["SESSIONLEDGER_CREATE_TABLE"] = "no"  # bootstrap created the event tables
        self.consumes = frozenset().union(*(spec.consumes for spec in given))
        self.runner: BaseProjectionRunner[Any] | None = None
        self.fan: FanOut | None = None  # the runner's projection, while it runs
        self.members: dict[str, Member] = {}
        self.restarts = 0
        self.last_error: str | None = None
        self._factories: list[InfrastructureFactory[Any]] = []
        self._stop = threading.Event()
        self._locks = [ProjectionLock(name, views) for name in sorted(self.specs)]
        label = "+".join(sorted(self.specs))
        self._thread = threading.Thread(target=self._supervise, name=f"run-{label}")
        self._thread.daemon = True

    def start(self) -> None:
        """Start supervising (the reader starts once every projection lock is held)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the reader and release the locks."""
        self._stop.set()
        self._thread.join(timeout=30)

    def view(self, name: str) -> Any:
        """The view (storage object) of projection `name` while it runs here."""
        return self.members[name].projection.view

    def _member(self, spec: ProjectionSpec) -> Member:
        env = Environment(
            spec.name,
            {
                **os.environ,
                **view_env(spec.name, self.events, self.views, create_tables=self.create_tables),
            },
        )
        factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env=env)
        self._factories.append(factory)
        view = factory.tracking_recorder(spec.view_class(self.views))
        projection_class = type(
            spec.projection.__name__,
            (spec.projection,),
            {"name": spec.name, "max_batch": self.batch, "__module__": spec.projection.__module__},
        )
        return Member(
            spec.name,
            projection_class(view=view),
            spec.consumes,
            view.max_tracking_id(APP_NAME) or 0,
        )

    def _start_runner(self) -> BaseProjectionRunner[Any]:
        self.members = {}
        for name in sorted(self.specs):
            self.members[name] = self._member(self.specs[name])
        fan = self.fan = FanOut(Starts(list(self.members.values())))
        runner: BaseProjectionRunner[Any] = BaseProjectionRunner(
            projection=fan,
            application_class=feed_for(self.consumes),
            tracking_recorder=fan.view,
            topics=(),
            env=self.env,
        )
        self.runner = runner
        runner.__enter__()
        return runner

    def _close_runner(self) -> None:
        runner, self.runner = self.runner, None
        fan, self.fan = self.fan, None
        if fan is not None:
            with contextlib.suppress(BaseException):
                fan.close()
        else:  # the start failed before the fan-out was made: close what was
            for member in self.members.values():
                with contextlib.suppress(BaseException):
                    member.projection.close()  # type: ignore[attr-defined]
        if runner is not None:
            with contextlib.suppress(BaseException):
                runner.__exit__(None, None, None)
        factories, self._factories = self._factories, []
        for factory in factories:  # the library leaves the views' pools open
            with contextlib.suppress(BaseException):
                factory.close()

    def _failed(self) -> BaseException | None:
        runner, fan = self.runner, self.fan
        if runner is None or fan is None:
            return None
        error = fan.error or runner._thread_error
        if error is None and runner.is_interrupted.is_set():
            error = RuntimeError("subscription stopped")
        return error

    def _supervise(self) -> None:
        backoff = RESTART_DELAY_S
        label = "+".join(sorted(self.specs))
        try:
            for lock in self._locks:
                if not lock.acquire(self._stop):
                    return
            while not self._stop.is_set():
                try:
                    self._start_runner()
                except Exception as e:
                    self.last_error = f"{type(e).__name__}: {e}"
                    log.warning("projections %s could not start: %s", label, e)
                    self._close_runner()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, MAX_RESTART_DELAY_S)
                    continue
                healthy_since = time.monotonic()
                while not self._stop.wait(0.2):
                    if time.monotonic() - healthy_since >= HEALTHY_AFTER_S:
                        backoff = RESTART_DELAY_S  # healthy again: the next fault starts afresh
                    error = self._failed()
                    if error is not None:
                        self.last_error = f"{type(error).__name__}: {error}"
                        log.warning("projections %s failed, restarting: %s", label, error)
                        self.restarts += 1
                        break
                self._close_runner()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_RESTART_DELAY_S)
        finally:
            self._close_runner()
            for lock in reversed(self._locks):
                lock.release()


class Projections:
    """Every registered projection (views and processes), run in this process by one reader."""

    def __init__(
        self,
        *,
        events: DatabaseURL,
        views: DatabaseURL,
        batch: int = 2000,
        create_tables: bool = True,
    ) -> None:
        self.events, self.views = events, views
        self.reader = ViewRunner(
            list(PROJECTIONS.values()),
            events=events,
            views=views,
            batch=batch,
            create_tables=create_tables,
        )

    def start(self) -> None:
        """Start the reader."""
        self.reader.start()

    def stop(self) -> None:
        """Stop the reader."""
        self.reader.stop()


SAFETY_NET_S = 0.5
"""How often a command waiting on views whose writers post here asks their tracking tables."""


def wait_for(views: dict[str, SessionView], position: int | None, timeout: float) -> bool:
    """Block until every view's tracking reaches `position`; False on timeout.

    The positions posted by this process's view writers answer first, without a query
    (`ledger.projections.positions`). When every view's writer posts here, the tracking tables
    are only a safety net (a runner that stopped posting), asked every `SAFETY_NET_S`: polling
    them every 100 ms while the views lagged under load added queries to the load. A view run
    by another process is asked every 2-50 ms.
    """
    if position is None:
        return True
    deadline = time.monotonic() + timeout
    pending = {name: view.location() for name, view in views.items()}
    here_only = all(positions.known(w) for w in pending.values())
    interval = min(SAFETY_NET_S, timeout) if here_only else 0.002
    while pending and not positions.wait(list(pending.values()), position, interval):
        for name, where in list(pending.items()):
            if positions.reached(where, position) or views[name].has_tracking_id(
                APP_NAME, position
            ):
                del pending[name]
        remaining = deadline - time.monotonic()
        if pending and remaining <= 0:
            return False
        cap = SAFETY_NET_S if here_only else 0.05
        interval = max(0.0, min(interval * 1.5, cap, remaining))
    return True
