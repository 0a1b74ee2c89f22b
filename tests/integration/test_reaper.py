"""The reaper records each expiry at the moment it happened, and only due ones."""

from __future__ import annotations

from datetime import timedelta

from ledger.aggregates import Session, session_uuid
from ledger.bootstrap import LedgerSystem
from ledger.reaper import Reaper, reap
from tests.conftest import FakeClock


def test_reap_records_due_sessions_from_the_view_and_the_views_follow(
    system: LedgerSystem, clock: FakeClock
) -> None:
    t0 = clock()
    system.ledger.start_session(tenant="acme", user_id="a", session_id="idle", idle_timeout_s=60)
    system.ledger.start_session(
        tenant="acme", user_id="a", session_id="hard", idle_timeout_s=3600, max_lifetime_s=120
    )
    out = system.ledger.start_session(tenant="acme", user_id="a", session_id="fresh")
    assert system.wait(out.position, timeout=10)
    clock.advance(minutes=5)
    outcome = reap(system.ledger, system.active, clock)
    assert sorted(outcome.expired) == [
        ("acme", "hard", "max_lifetime"),
        ("acme", "idle", "idle_timeout"),
    ]
    assert system.wait(outcome.position, timeout=10)
    idle = system.history.get("acme", "idle")
    hard = system.history.get("acme", "hard")
    assert idle is not None and idle.ended_at == t0 + timedelta(seconds=60)
    assert hard is not None and hard.ended_at == t0 + timedelta(seconds=120)
    assert hard.terminated_by == "system"
    assert system.active.due(now=clock()) == []
    assert reap(system.ledger, system.active, clock).expired == []


def test_the_background_reaper_runs_periodically(system: LedgerSystem, clock: FakeClock) -> None:
    out = system.ledger.start_session(tenant="acme", user_id="a", session_id="s", idle_timeout_s=60)
    assert system.wait(out.position, timeout=10)
    clock.advance(minutes=2)
    reaper = Reaper(system.ledger, system.active, clock, interval=0.05)
    reaper.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while reaper.expired == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        reaper.stop()
    assert reaper.expired == 1
    record: Session = system.ledger.repository.get(session_uuid("acme", "s"))
    assert record.termination_reason == "idle_timeout"
