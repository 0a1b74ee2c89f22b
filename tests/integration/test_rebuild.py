"""Rebuilding a view from position 0 into fresh tables and swapping it in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.projections.batching import SessionView
from ledger.projections.rebuild import SCRATCH_PREFIX, rebuild
from ledger.projections.runner import APP_NAME
from tests.seeding import seed_sessions

T0 = datetime.now(UTC) - timedelta(hours=1)


def test_a_rebuild_equals_the_incremental_view_and_replaces_a_damaged_one(
    system: LedgerSystem,
) -> None:
    head = seed_sessions(system.ledger, count=300, start=T0)
    assert system.wait(head, timeout=20)
    before = {name: list(view.rows()) for name, view in system.views.items()}
    with system.active.txn(commit=True) as c:  # damage the live view behind its back
        c.execute(f"DELETE FROM {system.active.t('active_sessions')}")
    progress: list[int] = []
    result = rebuild("active_sessions", system.settings, progress=progress.append)
    assert result.swapped and result.position == head and sum(progress) == result.events
    assert list(system.active.rows()) == before["active_sessions"]
    result = rebuild("session_history", system.settings)
    assert list(system.history.rows()) == before["session_history"]


def test_a_rebuild_while_commands_arrive_loses_nothing(system: LedgerSystem) -> None:
    seed_sessions(system.ledger, count=400, start=T0)
    stop = threading.Event()
    written: list[int] = []

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            out = system.ledger.start_session(tenant="acme", user_id="live", session_id=f"l{n}")
            written.append(out.position or 0)
            n += 1

    thread = threading.Thread(target=traffic)
    thread.start()
    try:
        for name in ("active_sessions", "session_history"):
            assert rebuild(name, system.settings).swapped
    finally:
        stop.set()
        thread.join()
    head = system.ledger.recorder.max_notification_id()
    assert system.wait(head, timeout=30), system.lag()
    live_sessions = system.active.user_sessions("acme", "live", now=system.clock())
    assert len(live_sessions) == len(written) > 0
    from ledger.projections.rebuild import build_scratch, open_events

    app = open_events(system.settings)
    for name, view in system.views.items():
        scratch, factory, _ = build_scratch(name, system.settings, app)
        assert list(scratch.rows()) == list(view.rows()), name
        scratch.drop_tables()
        factory.close()
    app.close()


def table_names(view: SessionView, settings: Settings) -> set[str]:
    """The tables of the views' database (of its schema on PostgreSQL)."""
    with view.read() as c:
        if view.dialect == "sqlite":
            c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            c.execute(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = ?",
                (settings.views_url.schema,),
            )
        return {row["name"] for row in c.fetchall()}


def test_an_empty_log_rebuilds_to_empty_views(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    try:
        result = rebuild("active_sessions", settings)
        assert result.swapped and result.events == 0 and result.position is None
        assert list(system.active.rows()) == []
        assert system.active.max_tracking_id(APP_NAME) is None
        names = table_names(system.active, settings)
        assert {system.active.prefix + t for t in system.active.view_tables()} <= names
        assert system.active.prefix != SCRATCH_PREFIX
        assert not [n for n in names if n.startswith(SCRATCH_PREFIX)], "scratch tables were left"
    finally:
        system.close()
