"""`SessionLedger.batch`: many commands, one transaction, one answer each, retried as a whole."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from ledger.aggregates import InvalidInput, Session, SessionNotFound, session_uuid
from ledger.application import SessionLedger
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.outcomes import ActivityOutcome, Outcome
from tests.conftest import FakeClock


@pytest.fixture
def other(make_settings: Callable[..., Settings], clock: FakeClock) -> Iterator[LedgerSystem]:
    """A second ledger on the same database (another process, as far as the store knows)."""
    system = bootstrap(make_settings(), clock=clock, run_projections=False)
    yield system
    system.close()


def version(ledger: SessionLedger, session_id: str) -> int:
    session: object = ledger.repository.get(session_uuid("t", session_id))
    assert isinstance(session, Session)
    return session.version


def test_a_conflict_with_another_writer_decides_the_whole_batch_again(
    write_only: LedgerSystem, other: LedgerSystem, clock: FakeClock
) -> None:
    ledger = write_only.ledger
    ledger.start_session(tenant="t", user_id="u", session_id="s1")
    calls = []

    def interloper() -> Outcome:
        calls.append(1)
        if len(calls) == 1:  # between this batch's decision and its commit
            earlier = clock.now - timedelta(minutes=5)
            thread = threading.Thread(
                target=lambda: other.ledger.record_activity(tenant="t", session_id="s1", at=earlier)
            )
            thread.start()
            thread.join()
        return ActivityOutcome()

    clock.advance(minutes=10)
    answers, position = ledger.batch(
        [lambda: ledger.record_activity(tenant="t", session_id="s1"), interloper]
    )
    assert len(calls) == 2
    assert isinstance(answers[0], ActivityOutcome) and answers[0].recorded
    assert position is not None and answers[0].position == position
    assert version(ledger, "s1") == 3  # started, the other's activity, the batch's


def test_a_refused_command_that_had_changed_state_is_left_out_of_a_fresh_decision(
    write_only: LedgerSystem, clock: FakeClock
) -> None:
    ledger = write_only.ledger
    ledger.start_session(tenant="t", user_id="u", session_id="s1")
    ledger.start_session(tenant="t", user_id="u", session_id="s2")
    clock.advance(minutes=10)

    def half_done() -> Outcome:
        ledger.record_activity(tenant="t", session_id="s1")
        raise InvalidInput("refused after recording")

    answers, _ = ledger.batch(
        [
            half_done,
            lambda: ledger.record_activity(tenant="t", session_id="s2"),
            lambda: ledger.record_activity(tenant="t", session_id="nope"),
        ]
    )
    assert isinstance(answers[0], InvalidInput)
    assert isinstance(answers[1], ActivityOutcome) and answers[1].recorded
    assert isinstance(answers[2], SessionNotFound)
    assert version(ledger, "s1") == 1  # the refused command's activity was not committed
    assert version(ledger, "s2") == 2
