"""Projection kinds: a process follows the log like a view, decoding only what it consumes.

A tiny outbound-style process (it records password resets in a table of its own, as an outbox
would) runs under the same supervised runner as the views. It must see the `Account` events it
declares (which no view consumes) with their state decoded, see every other event as a
`Skipped` marker, and track the log's head exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import singledispatchmethod
from typing import Any

import pytest
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from ledger.aggregates import Account, account_uuid
from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.names import LOG_NAME
from ledger.projections.feed import Skipped, topics
from ledger.projections.registry import PROJECTIONS, ProjectionSpec, specs
from ledger.projections.runner import ViewRunner
from ledger.projections.storage import PostgresViewStorage, SQLiteViewStorage, ViewStorage

RESET: type[Any] = Account.PasswordReset  # type: ignore[attr-defined]


class ResetLog(ViewStorage):
    """The process's outbox: one row per password reset (the account's id, the actor)."""

    name = "reset_log"

    def view_tables(self) -> list[str]:
        return ["reset_log"]

    def view_ddl(self) -> list[str]:
        return [f"CREATE TABLE IF NOT EXISTS {self.t('reset_log')} (user_id TEXT, actor TEXT)"]

    def add(self, user_id: str | None, actor: str | None, tracking: Tracking) -> None:
        with self.txn(commit=True) as c:
            self.write_tracking(c, tracking)
            if user_id is not None:
                c.execute(f"INSERT INTO {self.t('reset_log')} VALUES (?, ?)", (user_id, actor))

    def rows(self) -> list[tuple[str, str]]:
        with self.read() as c:
            c.execute(f"SELECT user_id, actor FROM {self.t('reset_log')}")
            return [(r["user_id"], r["actor"]) for r in c.fetchall()]


class SQLiteResetLog(ResetLog, SQLiteViewStorage):
    pass


class PostgresResetLog(ResetLog, PostgresViewStorage):
    pass


class ResetProcess(Projection[ResetLog]):
    name = "reset_log"
    consumes = topics(RESET)
    skipped: list[str] = []

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        raise TypeError(f"not consumed: {type(domain_event).__qualname__}")

    @process_event.register
    def _(self, domain_event: Skipped, tracking: Tracking) -> None:
        ResetProcess.skipped.append(domain_event.topic)
        self.view.add(None, None, tracking)

    @process_event.register(RESET)
    def _(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.add(domain_event.originator_id.hex, domain_event.actor, tracking)


SPEC = ProjectionSpec("reset_log", ResetProcess, SQLiteResetLog, PostgresResetLog, kind="process")


def test_a_projection_must_declare_what_it_consumes() -> None:
    class Silent(ResetProcess):
        consumes = frozenset()

    with pytest.raises(TypeError, match="declares no event topics"):
        ProjectionSpec("silent", Silent, SQLiteResetLog, PostgresResetLog, kind="process")


def test_only_views_are_waited_on_and_every_registered_projection_declares_topics() -> None:
    assert set(specs("view")) == {"active_sessions", "session_history", "session_counts"}
    assert all(spec.consumes for spec in PROJECTIONS.values())


def test_a_process_receives_the_account_events_it_consumes_and_skips_the_rest(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    ResetProcess.skipped = []
    runner = ViewRunner(SPEC, events=settings.events_url, views=settings.views_url)
    runner.start()
    try:
        system.ledger.start_session(tenant="acme", user_id="ann", session_id="s1")
        system.ledger.start_session(tenant="acme", user_id="ann", session_id="s2")
        system.ledger.reset_password(tenant="acme", user_id="ann", actor="helpdesk")
        head = system.ledger.recorder.max_notification_id()
        assert head is not None
        deadline = time.monotonic() + 20
        while runner.runner is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runner.runner is not None
        view: Any = runner.view("reset_log")
        while (view.max_tracking_id(LOG_NAME) or 0) < head and time.monotonic() < deadline:
            time.sleep(0.05)
        assert view.max_tracking_id(LOG_NAME) == head
        assert view.rows() == [(account_uuid("acme", "ann").hex, "helpdesk")]
        assert len(ResetProcess.skipped) == head - 1
        assert any(t.endswith("Session.Terminated") for t in ResetProcess.skipped)
    finally:
        runner.stop()
        system.close()
