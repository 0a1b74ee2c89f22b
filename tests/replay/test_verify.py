"""`verify` and `rebuild`: views rebuilt from the log, compared with or swapped for the live."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from ledger.bootstrap import LedgerSystem
from tests.conftest import FakeClock
from tests.replay.conftest import Replay, raw_sql


@pytest.fixture
def projected(system: LedgerSystem, clock: FakeClock) -> LedgerSystem:
    """Three sessions (one with SSO, one logged out), the views caught up."""
    ledger = system.ledger
    ledger.start_session(tenant="acme", user_id="ann", session_id="a1", ip="10.0.0.1")
    ledger.start_session(tenant="acme", user_id="bob", session_id="b1")
    clock.advance(minutes=5)
    ledger.record_activity(tenant="acme", session_id="a1", application={"id": "wiki"})
    ledger.start_session(tenant="acme", user_id="ann", session_id="a2")
    outcome = ledger.terminate_session(tenant="acme", session_id="b1", reason="logout", actor="idp")
    assert system.wait(outcome.position, timeout=10)
    return system


def _differences(replay: Replay, *args: str) -> list[dict[str, Any]]:
    result = replay("verify", "--json", *args)
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1), result.output
    return [d for view in report["views"] for d in view["differences"]]


def test_views_kept_by_the_projections_verify_identical(
    projected: LedgerSystem, replay: Replay
) -> None:
    result = replay("verify")
    assert result.exit_code == 0, result.output
    assert "active_sessions: identical at position" in result.stderr
    assert "session_history: identical at position" in result.stderr


def test_verify_reports_a_view_row_changed_behind_the_projections_back(
    projected: LedgerSystem, replay: Replay, database_url: str
) -> None:
    with raw_sql(database_url) as execute:
        execute("UPDATE session_history SET termination_reason = 'user_terminated'"
                " WHERE session_id = 'b1'")  # fmt: skip
    (difference,) = _differences(replay, "--projection", "session_history")
    assert (difference["view"], difference["table"]) == ("session_history", "session_history")
    assert difference["kind"] == "changed"
    assert difference["detail"] == "termination_reason: live 'user_terminated', rebuilt 'logout'"
    table = replay("verify")
    assert table.exit_code == 1
    assert "session_history: 1 difference(s)" in table.stderr


def test_verify_reports_rows_missing_from_and_added_to_a_view(
    projected: LedgerSystem, replay: Replay, database_url: str
) -> None:
    with raw_sql(database_url) as execute:
        execute("DELETE FROM active_session_apps WHERE app_id = 'wiki'")
        execute("INSERT INTO active_session_apps SELECT session_key, 'forged', tenant, started_at"
                " FROM active_sessions WHERE session_id = 'a2'")  # fmt: skip
    found = {(d["table"], d["kind"]) for d in _differences(replay)}
    assert found == {("active_session_apps", "missing"), ("active_session_apps", "unexpected")}


def test_verify_compares_one_moment_while_the_live_views_keep_moving(
    projected: LedgerSystem, replay: Replay
) -> None:
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            projected.ledger.start_session(tenant="busy", user_id=f"u{n % 7}", session_id=f"x{n}")
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert _differences(replay) == []
    finally:
        stop.set()
        writer.join()


def test_rebuild_repairs_a_tampered_view(
    projected: LedgerSystem, replay: Replay, database_url: str
) -> None:
    with raw_sql(database_url) as execute:
        execute("DELETE FROM session_history WHERE session_id = 'a1'")
    assert _differences(replay)
    result = replay("rebuild", "--projection", "session_history", "--json")
    assert result.exit_code == 0, result.output
    (rebuilt,) = json.loads(result.stdout)["rebuilt"]
    assert rebuilt["name"] == "session_history"
    assert rebuilt["swapped"] is True
    assert _differences(replay) == []


def test_an_unknown_view_is_refused(replay: Replay) -> None:
    for command in ("verify", "rebuild"):
        result = replay(command, "--projection", "nope")
        assert result.exit_code == 2
        assert "unknown view 'nope'" in result.stderr
