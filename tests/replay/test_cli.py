"""`ledger-replay history` and `timeline` through the CLI: answers, JSON, and clear errors."""

from __future__ import annotations

import json

from ledger.bootstrap import LedgerSystem
from tests.conftest import FakeClock
from tests.replay.conftest import Replay, raw_sql

MAIL = {"id": "mail", "name": "Mail"}


def _story(system: LedgerSystem, clock: FakeClock) -> None:
    """ann: s1 at 12:00 (idle 600 s), s2 at 12:01, admin ends s2 at 12:05, reset at 12:20."""
    ledger = system.ledger
    ledger.start_session(
        tenant="acme", user_id="ann", session_id="s1", ip="10.0.0.1", application=MAIL,
        idle_timeout_s=600,
    )  # fmt: skip
    clock.advance(minutes=1)
    ledger.start_session(tenant="acme", user_id="ann", session_id="s2", user_agent="Firefox")
    clock.advance(minutes=4)
    ledger.terminate_session(
        tenant="acme", session_id="s2", reason="admin_terminated", actor="root"
    )
    ledger.start_session(tenant="other", user_id="ann", session_id="x1")
    clock.advance(minutes=15)
    ledger.reset_password(tenant="acme", user_id="ann", actor="helpdesk")


def test_history_lists_the_sessions_open_at_the_moment_with_their_details(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    result = replay("history", "ann", "--tenant", "acme", "--at", "2026-03-01T12:02:00Z", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["at"] == "2026-03-01T12:02:00Z"
    assert [s["id"] for s in answer["sessions"]] == ["s1", "s2"]
    first = answer["sessions"][0]
    assert first["ip"] == "10.0.0.1"
    assert first["applications"] == [MAIL]
    assert first["started_at"] == "2026-03-01T12:00:00Z"
    assert first["expires_at"] == "2026-03-01T12:10:00Z"


def test_history_leaves_out_sessions_ended_or_expired_by_then(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    at_five = replay("history", "ann", "-t", "acme", "--at", "2026-03-01T12:05:00+00:00", "--json")
    assert [s["id"] for s in json.loads(at_five.stdout)["sessions"]] == ["s1"]
    at_ten = replay("history", "ann", "-t", "acme", "--at", "2026-03-01T14:10:00+02:00", "--json")
    assert json.loads(at_ten.stdout)["sessions"] == []


def test_history_shows_a_table_by_default(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    result = replay("history", "ann", "--tenant", "acme", "--at", "2026-03-01T12:02:00Z")
    assert result.exit_code == 0
    assert "open at 2026-03-01T12:02:00Z: 2" in result.stdout
    assert "s1" in result.stdout
    assert "10.0.0.1" in result.stdout
    assert "Firefox" in result.stdout


def test_an_unknown_user_has_an_empty_history_and_exit_code_zero(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    result = replay("history", "nobody", "--at", "2026-03-01T12:02:00Z", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["sessions"] == []
    table = replay("timeline", "nobody", "--tenant", "acme")
    assert table.exit_code == 0
    assert "(none)" in table.stdout


def test_a_bad_time_is_refused_with_a_message_and_a_non_zero_exit(replay: Replay) -> None:
    for bad in ("yesterday", "2026-03-01", "2026-03-01T12:00:00", "2026-13-01T00:00:00Z"):
        result = replay("history", "ann", "--at", bad)
        assert result.exit_code == 2, bad
        assert "RFC 3339" in result.stderr or "not a valid time" in result.stderr, result.stderr


def test_an_unreachable_database_exits_2_with_one_line_naming_the_setting(
    replay: Replay, tmp_path: object
) -> None:
    for url in ("postgresql://nobody@127.0.0.1:1/none", f"sqlite:///{tmp_path}/missing.sqlite3"):
        result = replay("history", "ann", "--at", "2026-03-01T12:00:00Z", env={
            "LEDGER_DATABASE_URL": url
        })  # fmt: skip
        assert result.exit_code == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "LEDGER_DATABASE_URL" in lines[0]
        assert "Traceback" not in result.output


def test_timeline_lists_every_event_in_log_order_with_reason_actor_and_cause(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    result = replay("timeline", "ann", "--tenant", "acme", "--json")
    assert result.exit_code == 0
    events = json.loads(result.stdout)["events"]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions)
    names = [(e["event"], e["session_id"]) for e in events]
    assert ("Session.Started", "s1") in names
    assert ("Account.Registered", None) in names
    ends = {e["session_id"]: e for e in events if e["event"] == "Session.Terminated"}
    assert ends["s2"]["reason"] == "admin_terminated"
    assert ends["s2"]["actor"] == "root"
    reset = next(e for e in events if e["event"] == "Account.PasswordReset")
    assert ends["s1"]["reason"] == "idle_timeout"  # s1 was idle for 20 minutes: it expired
    assert ends["s1"]["time"] == "2026-03-01T12:10:00Z"
    assert reset["actor"] == "helpdesk"
    assert "closed s1" in reset["details"]


def test_timeline_links_a_termination_to_the_reset_that_caused_it(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    write_only.ledger.start_session(tenant="acme", user_id="bo", session_id="b1")
    clock.advance(minutes=1)
    write_only.ledger.reset_password(tenant="acme", user_id="bo", actor="helpdesk")
    events = json.loads(replay("timeline", "bo", "-t", "acme", "--json").stdout)["events"]
    reset = next(e for e in events if e["event"] == "Account.PasswordReset")
    end = next(e for e in events if e["event"] == "Session.Terminated")
    assert end["reason"] == "password_reset"
    assert end["cause"] in reset["details"]


def test_timeline_keeps_only_events_between_since_and_until(
    write_only: LedgerSystem, clock: FakeClock, replay: Replay
) -> None:
    _story(write_only, clock)
    result = replay(
        "timeline", "ann", "-t", "acme", "--since", "2026-03-01T12:01:00Z",
        "--until", "2026-03-01T12:05:00Z", "--json",
    )  # fmt: skip
    events = json.loads(result.stdout)["events"]
    assert {e["time"] for e in events} == {"2026-03-01T12:01:00Z"}
    assert {e["session_id"] for e in events} == {"s2"}


def test_a_database_refusal_is_one_line_and_exit_2(
    write_only: LedgerSystem, replay: Replay, database_url: str
) -> None:
    write_only.ledger.start_session(tenant="acme", user_id="ann", session_id="s1")
    assert replay("seal").exit_code == 0
    write_only.ledger.start_session(tenant="acme", user_id="ann", session_id="s2")
    with raw_sql(database_url) as execute:
        execute("DROP TABLE ledger_seals")
        execute("CREATE VIEW ledger_seals AS SELECT 1 AS seq")  # a seal table nobody can use
    result = replay("seal")
    assert result.exit_code == 2
    assert result.stderr.startswith("ledger-replay: LEDGER_DATABASE_URL: database error:")
    assert len(result.stderr.strip().splitlines()) == 1
