"""Group commit: concurrent commands share a transaction, yet each gets its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from copy import deepcopy
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from ledger.aggregates import Session, session_uuid
from ledger.bootstrap import bootstrap
from ledger.committer import GroupCommitter, VersionConflict
from ledger.config import Settings
from tests.conftest import FakeClock


def in_threads(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once; return each one's result or exception, in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(n: int) -> None:
        barrier.wait()
        try:
            results[n] = calls[n]()
        except BaseException as e:
            results[n] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def hold_for_one_batch(committer: GroupCommitter, *, size: int) -> None:
    """Make the committer's next batch the next `size` requests, whatever the threads' timing.

    The committer thread, holding the first request, waits until the other `size - 1` are
    queued (polling the queue's length, not a time window), then gathers them all.
    """

    def hold() -> None:
        committer.before_batch = None  # this batch only
        deadline = time.monotonic() + 30
        while committer.queued < size - 1 and time.monotonic() < deadline:
            time.sleep(0.001)

    committer.before_batch = hold


def new_session(sid: str) -> Session:
    from datetime import UTC, datetime

    return Session(
        tenant="acme",
        session_id=sid,
        user_id="u",
        at=datetime(2026, 3, 1, tzinfo=UTC),
        ip=None,
        user_agent=None,
        application=None,
        auth_methods=[],
        idle_timeout_s=60,
        max_lifetime_s=60,
    )


@pytest.fixture
def grouped(make_settings: Callable[..., Settings], clock: FakeClock) -> Any:
    system = bootstrap(
        make_settings(group_commit=True),
        clock=clock,
        run_projections=False,
    )
    yield system
    system.close()


def test_concurrent_starts_are_committed_in_one_transaction(grouped: Any) -> None:
    ledger = grouped.ledger
    committer = ledger.committer
    assert isinstance(committer, GroupCommitter)
    hold_for_one_batch(committer, size=12)
    outcomes = in_threads(
        *[
            (lambda n=n: ledger.start_session(tenant="acme", user_id=f"u{n}", session_id=f"s{n}"))
            for n in range(12)
        ]
    )
    assert all(o.created for o in outcomes)
    positions = [o.position for o in outcomes]
    assert len(set(positions)) == 12
    assert (committer.commands, committer.batches) == (12, 1)
    assert ledger.recorder.max_notification_id() == max(positions)


def test_a_conflict_in_a_batch_fails_only_its_own_command(grouped: Any) -> None:
    ledger = grouped.ledger
    ledger.start_session(tenant="acme", user_id="u", session_id="old")
    stale = ledger.repository.get(session_uuid("acme", "old"))
    ledger.terminate_session(tenant="acme", session_id="old", reason="logout", actor="a")
    stale.terminate(at=stale.started_at, reason="admin_terminated", actor="b")
    fresh = new_session("fresh")
    batches = ledger.committer.batches
    hold_for_one_batch(ledger.committer, size=2)
    results = in_threads(
        lambda: ledger.committer.commit([stale]),
        lambda: ledger.committer.commit([fresh]),
    )
    assert ledger.committer.batches == batches + 1, "both commands shared one batch"
    assert isinstance(results[0], IntegrityError)
    assert isinstance(results[1], int)
    assert ledger.repository.get(session_uuid("acme", "fresh")).version == 1


def test_two_commands_writing_the_same_version_in_one_batch(grouped: Any) -> None:
    ledger = grouped.ledger
    ledger.start_session(tenant="acme", user_id="u", session_id="s")
    one = ledger.repository.get(session_uuid("acme", "s"))
    two = deepcopy(one)
    one.terminate(at=one.started_at, reason="logout", actor="a")
    two.terminate(at=two.started_at, reason="browser_closed", actor="b")
    hold_for_one_batch(ledger.committer, size=2)
    results = in_threads(
        lambda: ledger.committer.commit([one]), lambda: ledger.committer.commit([two])
    )
    assert sorted(type(r).__name__ for r in results) == ["VersionConflict", "int"]
    assert isinstance(next(r for r in results if not isinstance(r, int)), VersionConflict)
    session = ledger.repository.get(session_uuid("acme", "s"))
    assert session.version == 2


def test_the_committer_refuses_work_after_close(
    make_settings: Callable[..., Settings], clock: FakeClock
) -> None:
    system = bootstrap(make_settings(group_commit=True), clock=clock, run_projections=False)
    system.close()
    with pytest.raises(RuntimeError, match="closed"):
        system.ledger.committer.commit([new_session("late")])
