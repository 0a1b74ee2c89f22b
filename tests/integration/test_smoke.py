"""Smoke: a start is visible in both views after the runner catches up, on each backend."""

from ledger.bootstrap import LedgerSystem


def test_started_session_is_listed_as_active_and_in_history(system: LedgerSystem) -> None:
    outcome = system.ledger.start_session(tenant="t", user_id="alice", session_id="s1")
    assert system.wait(outcome.position, timeout=10)
    active = system.active.user_sessions("t", "alice", now=system.clock())
    assert [s.id for s in active] == ["s1"]
    assert system.history.get("t", "s1") is not None
