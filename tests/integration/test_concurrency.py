"""Concurrent starts and resets for one user: nothing lost, nothing left open.

Property: with several threads starting sessions and resetting the same user's password at
once, every start that returned is in the log exactly once, and every session whose start was
recorded before a reset is terminated by then (checked by log position, so the check does not
depend on thread timing). Runs with and without group commit, on both databases.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ledger.aggregates import Account, Session, account_uuid, session_uuid
from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.outcomes import BulkOutcome, StartOutcome
from tests.conftest import FakeClock

THREADS = 6
STARTS = 12


def notification_ids(ledger: Any) -> dict[tuple[str, int], int]:
    """(originator hex, version) -> notification id, over the whole log."""
    ids: dict[tuple[str, int], int] = {}
    start = 0
    while True:
        notes = ledger.recorder.select_notifications(
            start=start, limit=500, inclusive_of_start=False
        )
        if not notes:
            return ids
        for n in notes:
            ids[(n.originator_id.hex, n.originator_version)] = n.id
        start = notes[-1].id


@pytest.mark.parametrize("group_commit", [False, True], ids=["one-by-one", "group-commit"])
def test_concurrent_starts_and_resets_lose_nothing_and_leave_nothing_open(
    make_settings: Callable[..., Settings], clock: FakeClock, group_commit: bool
) -> None:
    system = bootstrap(make_settings(group_commit=group_commit), clock=clock, run_projections=False)
    ledger = system.ledger
    starts: list[StartOutcome] = []
    resets: list[BulkOutcome] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(STARTS):
                outcome = ledger.start_session(
                    tenant="acme", user_id="alice", session_id=f"{n}-{i}"
                )
                starts.append(outcome)
                if i % 4 == n % 4:
                    resets.append(
                        ledger.reset_password(tenant="acme", user_id="alice", actor="idp")
                    )
        except BaseException as e:  # report in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert not errors, errors
        assert len(starts) == THREADS * STARTS and all(s.created for s in starts)
        ids = notification_ids(ledger)
        # Every start is in the log exactly once (Started is version 1 of its session).

        started_at = {
            s.session.id: ids[(session_uuid("acme", s.session.id).hex, 1)]  # type: ignore[union-attr]
            for s in starts
        }
        assert len(set(started_at.values())) == THREADS * STARTS
        last_reset = max(r.position for r in resets if r.position is not None)
        for sid, position in started_at.items():
            session: Session = ledger.repository.get(session_uuid("acme", sid))
            if position < last_reset:
                assert session.termination_reason == "password_reset", sid
            else:
                assert session.ended_at is None, sid
        terminated = [sid for r in resets for sid in r.terminated]
        assert len(terminated) == len(set(terminated))
        account: Account = ledger.repository.get(account_uuid("acme", "alice"))
        open_by_log = {sid for sid, p in started_at.items() if p > last_reset}
        assert set(account.active_session_ids) == open_by_log
    finally:
        system.close()
