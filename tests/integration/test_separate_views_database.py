"""Views may live in another database than the events (LEDGER_VIEWS_DATABASE_URL)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.projections.rebuild import rebuild


def test_views_in_their_own_sqlite_file_follow_the_events_elsewhere(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    """The events on the current backend; the views in a separate SQLite file."""
    views_file = tmp_path / "views.sqlite3"
    settings = make_settings(views_database_url=f"sqlite:///{views_file}")
    system = bootstrap(settings, run_projections=True)
    try:
        out = system.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
        assert system.wait(out.position, timeout=15)
        assert [s.id for s in system.active.user_sessions("acme", "alice", now=system.clock())] == [
            "s1"
        ]
        assert rebuild("session_history", settings).swapped
        assert system.history.get("acme", "s1") is not None
    finally:
        system.close()
    with sqlite3.connect(views_file) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"active_sessions", "session_history", "active_sessions_tracking"} <= tables
    assert "stored_events" not in tables
