"""The per-batch fold of session events, and pagination cursors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from ledger.aggregates import Account, Session
from ledger.projections.deltas import fold, from_us, to_us
from ledger.projections.feed import Skipped
from ledger.projections.pages import InvalidCursor, decode_cursor, encode_cursor

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def session(sid: str = "s1") -> Session:
    return Session(
        tenant="acme",
        session_id=sid,
        user_id="alice",
        at=T0,
        ip="10.0.0.1",
        user_agent=None,
        application={"id": "mail", "name": "Mail"},
        auth_methods=[],
        idle_timeout_s=600,
        max_lifetime_s=3600,
    )


def test_times_round_trip_through_microseconds() -> None:
    moment = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert from_us(to_us(moment)) == moment


def test_a_start_with_later_events_in_the_batch_folds_into_one_row() -> None:
    s = session()
    s.record_activity(at=T0 + 2 * MINUTE, ip="10.0.0.2", granularity=MINUTE)
    s.join(application={"id": "crm", "name": "CRM"}, at=T0 + 3 * MINUTE)
    (delta,) = fold(s.collect_events())
    row = delta.start_row()
    assert row["last_active_at"] == to_us(T0 + 3 * MINUTE)
    assert row["ip"] == "10.0.0.2"
    assert [a["id"] for a in row["applications"]] == ["mail", "crm"]
    assert row["expires_at"] == to_us(T0 + 13 * MINUTE)
    assert row["hard_expires_at"] == to_us(T0 + timedelta(hours=1))


def test_a_termination_is_kept_with_its_details_and_account_events_are_ignored() -> None:
    s = session()
    s.collect_events()
    s.terminate(at=T0 + MINUTE, reason="logout", actor="alice", cause="c")
    account = Account(tenant="acme", user_id="alice")
    skipped = [
        Skipped(e.originator_id, e.originator_version, "x") for e in account.collect_events()
    ]
    (delta,) = fold([*skipped, *s.collect_events()])
    assert delta.start is None and delta.ended
    assert (delta.ended_us, delta.reason, delta.actor, delta.cause) == (
        to_us(T0 + MINUTE),
        "logout",
        "alice",
        "c",
    )


def test_an_event_the_views_do_not_consume_is_refused_not_dropped() -> None:
    account = Account(tenant="acme", user_id="alice")
    with pytest.raises(TypeError, match="do not consume"):
        fold(account.collect_events())


def test_deltas_keep_the_order_of_first_appearance() -> None:
    a, b = session("a"), session("b")
    events = [*b.collect_events(), *a.collect_events()]
    assert [d.start["session_id"] for d in fold(events) if d.start] == ["b", "a"]


def test_cursors_round_trip() -> None:
    key = uuid4()
    assert decode_cursor(encode_cursor(12345, key)) == (12345, key)


@pytest.mark.parametrize(
    "bad", ["bm90IGpzb24", "WzIsMSwiYWIiXQ", "WzEsIngiLCJhYiJd", "!!!", "A" * 201, ""]
)
def test_malformed_cursors_are_refused(bad: str) -> None:
    """Not base64, not JSON, wrong version, wrong types, too long, empty."""
    with pytest.raises(InvalidCursor):
        decode_cursor(bad)
