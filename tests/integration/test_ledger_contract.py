"""The command side's contract, run unchanged on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.application import project_aggregate

from ledger.aggregates import (
    Account,
    ConcurrencyConflict,
    FutureTimestamp,
    InvalidInput,
    Session,
    SessionConflict,
    SessionEnded,
    SessionNotFound,
    account_uuid,
    session_uuid,
)
from ledger.bootstrap import LedgerSystem
from tests.conftest import FakeClock

APP = {"id": "mail", "name": "Mail"}


def start(system: LedgerSystem, sid: str, user: str = "alice", **kw: object) -> object:
    fields: dict[str, object] = {"tenant": "acme", "user_id": user, "session_id": sid}
    fields.update(kw)
    return system.ledger.start_session(**fields)  # type: ignore[arg-type]


def topics(system: LedgerSystem) -> list[str]:
    recorder = system.ledger.recorder
    notes = recorder.select_notifications(start=None, limit=1000)
    return [n.topic.rsplit(".", 1)[-1] for n in notes]


def test_a_start_records_the_session_and_the_account_together(write_only: LedgerSystem) -> None:
    outcome = start(write_only, "s1", ip="10.0.0.1", application=APP, auth_methods=["pwd"])
    assert outcome.created  # type: ignore[attr-defined]
    assert topics(write_only) == ["Registered", "SessionAdded", "Started"]
    # The command's position is the last of its events in the log: what the views wait for.
    assert outcome.position == write_only.ledger.recorder.max_notification_id()  # type: ignore[attr-defined]
    record = outcome.session  # type: ignore[attr-defined]
    assert (record.id, record.user_id, record.ip, record.applications) == (
        "s1",
        "alice",
        "10.0.0.1",
        [APP],
    )


def test_repeating_the_same_start_records_nothing(write_only: LedgerSystem) -> None:
    first = start(write_only, "s1", ip="10.0.0.1", application=APP)
    again = start(write_only, "s1", ip="10.0.0.1", application=APP)
    assert not again.created  # type: ignore[attr-defined]
    assert again.position is None  # type: ignore[attr-defined]
    assert again.session.started_at == first.session.started_at  # type: ignore[attr-defined]
    assert len(topics(write_only)) == 3


def test_a_start_of_an_existing_id_with_other_data_is_a_conflict(write_only: LedgerSystem) -> None:
    start(write_only, "s1", ip="10.0.0.1")
    with pytest.raises(SessionConflict, match="ip, user_id"):
        start(write_only, "s1", user="mallory", ip="10.0.0.2")


def test_a_session_without_an_idp_id_gets_a_fresh_one(write_only: LedgerSystem) -> None:
    a = write_only.ledger.start_session(tenant="acme", user_id="alice")
    b = write_only.ledger.start_session(tenant="acme", user_id="alice")
    assert a.session.id != b.session.id  # type: ignore[union-attr]


def test_activity_is_throttled_and_joins_record_the_application(
    write_only: LedgerSystem, clock: FakeClock
) -> None:
    start(write_only, "s1")
    clock.advance(seconds=30)
    assert not write_only.ledger.record_activity(tenant="acme", session_id="s1").recorded
    clock.advance(seconds=31)
    outcome = write_only.ledger.record_activity(tenant="acme", session_id="s1", ip="10.9.9.9")
    assert outcome.recorded
    joined = write_only.ledger.record_activity(tenant="acme", session_id="s1", application=APP)
    assert joined.joined and not joined.recorded
    assert topics(write_only)[-2:] == ["ActivityRecorded", "ApplicationJoined"]


def test_activity_that_also_joins_an_application_keeps_the_new_ip(
    write_only: LedgerSystem, clock: FakeClock
) -> None:
    start(write_only, "s1", ip="10.0.0.1")
    clock.advance(minutes=5)
    outcome = write_only.ledger.record_activity(
        tenant="acme", session_id="s1", ip="10.0.0.2", application=APP
    )
    assert outcome.recorded and outcome.joined
    assert outcome.session.ip == "10.0.0.2"  # type: ignore[union-attr]
    assert topics(write_only)[-2:] == ["ActivityRecorded", "ApplicationJoined"]


def test_activity_on_an_unknown_terminated_or_expired_session_is_refused(
    write_only: LedgerSystem, clock: FakeClock
) -> None:
    with pytest.raises(SessionNotFound):
        write_only.ledger.record_activity(tenant="acme", session_id="nope")
    start(write_only, "s1", idle_timeout_s=60)
    start(write_only, "s2")
    write_only.ledger.terminate_session(tenant="acme", session_id="s2", reason="logout", actor="a")
    with pytest.raises(SessionEnded):
        write_only.ledger.record_activity(tenant="acme", session_id="s2")
    clock.advance(seconds=61)
    with pytest.raises(SessionEnded, match="expired"):
        write_only.ledger.record_activity(tenant="acme", session_id="s1")


def test_times_beyond_the_skew_are_refused(write_only: LedgerSystem, clock: FakeClock) -> None:
    with pytest.raises(FutureTimestamp):
        start(write_only, "s1", at=clock() + timedelta(minutes=6))
    with pytest.raises(InvalidInput):
        start(write_only, "s1", ip="999.1.1.1")
    assert topics(write_only) == []


def test_terminating_twice_records_once(write_only: LedgerSystem) -> None:
    start(write_only, "s1")
    first = write_only.ledger.terminate_session(
        tenant="acme", session_id="s1", reason="user_terminated", actor="alice"
    )
    again = write_only.ledger.terminate_session(
        tenant="acme", session_id="s1", reason="admin_terminated", actor="root"
    )
    assert first.terminated and not again.terminated
    assert again.reason == "user_terminated" and again.position is None
    assert topics(write_only)[-2:] == ["SessionsClosed", "Terminated"]


def test_another_users_session_is_not_found(write_only: LedgerSystem) -> None:
    start(write_only, "s1", user="bob")
    with pytest.raises(SessionNotFound):
        write_only.ledger.terminate_session(
            tenant="acme",
            session_id="s1",
            reason="user_terminated",
            actor="alice",
            user_id="alice",
        )
    with pytest.raises(SessionNotFound):
        write_only.ledger.terminate_session(
            tenant="other", session_id="s1", reason="admin_terminated", actor="root"
        )


def test_terminate_all_keeps_the_current_session(write_only: LedgerSystem) -> None:
    for sid in ("s1", "s2", "s3"):
        start(write_only, sid)
    outcome = write_only.ledger.terminate_all(
        tenant="acme",
        user_id="alice",
        reason="user_terminated",
        actor="alice",
        keep_session_id="s2",
    )
    assert sorted(outcome.terminated) == ["s1", "s3"]
    account: Account = write_only.ledger.repository.get(account_uuid("acme", "alice"))
    assert account.active_session_ids == ["s2"]


def test_a_password_reset_ends_every_session_with_its_own_id_as_cause(
    write_only: LedgerSystem,
) -> None:
    for sid in ("s1", "s2"):
        start(write_only, sid)
    start(write_only, "other", user="bob")
    outcome = write_only.ledger.reset_password(tenant="acme", user_id="alice", actor="idp")
    assert sorted(outcome.terminated) == ["s1", "s2"]
    for sid in ("s1", "s2"):
        session: Session = write_only.ledger.repository.get(session_uuid("acme", sid))
        assert session.termination_reason == "password_reset"
        assert session.termination_cause == outcome.event_id
    bob: Session = write_only.ledger.repository.get(session_uuid("acme", "other"))
    assert bob.ended_at is None
    # The reset and the terminations are one transaction: consecutive notifications.
    notes = write_only.ledger.recorder.select_notifications(start=None, limit=100)
    assert outcome.position is not None
    tail = [n.topic.rsplit(".", 1)[-1] for n in notes if n.id > outcome.position - 3]
    assert tail == ["PasswordReset", "Terminated", "Terminated"]


def test_a_reset_of_a_user_without_sessions_is_still_recorded(write_only: LedgerSystem) -> None:
    outcome = write_only.ledger.reset_password(tenant="acme", user_id="carol", actor="idp")
    assert outcome.terminated == [] and outcome.position is not None
    assert topics(write_only) == ["Registered", "PasswordReset"]


def test_revocation_ends_the_sessions_with_its_reason(write_only: LedgerSystem) -> None:
    start(write_only, "s1")
    outcome = write_only.ledger.revoke(
        tenant="acme", user_id="alice", reason="account_locked", actor="idp"
    )
    assert outcome.terminated == ["s1"]
    with pytest.raises(InvalidInput):
        write_only.ledger.revoke(tenant="acme", user_id="alice", reason="logout", actor="idp")


def test_the_reaper_records_expiry_at_the_moment_it_happened(
    write_only: LedgerSystem, clock: FakeClock
) -> None:
    started = clock()
    start(write_only, "s1", idle_timeout_s=60)
    start(write_only, "s2", idle_timeout_s=3600)
    clock.advance(minutes=10)
    outcome = write_only.ledger.expire_sessions([("acme", "s1"), ("acme", "s2"), ("acme", "x")])
    assert outcome.expired == [("acme", "s1", "idle_timeout")]
    session: Session = write_only.ledger.repository.get(session_uuid("acme", "s1"))
    assert session.ended_at == started + timedelta(seconds=60)
    assert session.terminated_by == "system"


def test_accounts_with_long_histories_load_from_snapshots(write_only: LedgerSystem) -> None:
    for n in range(60):
        start(write_only, f"s{n}")
        write_only.ledger.terminate_session(
            tenant="acme", session_id=f"s{n}", reason="logout", actor="idp"
        )
    account_id = account_uuid("acme", "alice")
    snapshots = list(write_only.ledger.snapshots.get(account_id))  # type: ignore[union-attr]
    events = list(write_only.ledger.events.get(account_id))
    interval = write_only.ledger.snapshotting_intervals[Account]
    assert len(events) > interval, "the history is longer than one snapshot interval"
    assert [s.originator_version for s in snapshots] == list(
        range(interval, len(events) + 1, interval)
    )
    account: Account = write_only.ledger.repository.get(account_id)
    rebuilt = project_aggregate(None, events)
    assert vars(account) == vars(rebuilt)
    assert account.version == events[-1].originator_version > snapshots[-1].originator_version


def test_retries_run_out_into_a_concurrency_conflict(
    write_only: LedgerSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    start(write_only, "s1")
    ledger = write_only.ledger
    stale: Session = ledger.repository.get(session_uuid("acme", "s1"))
    # Every decision is taken against the same stale copy: each commit conflicts.
    monkeypatch.setattr(ledger, "_session", lambda *_: __import__("copy").deepcopy(stale))
    ledger.terminate_session(tenant="acme", session_id="s1", reason="logout", actor="a")
    with pytest.raises(ConcurrencyConflict):
        ledger.record_activity(tenant="acme", session_id="s1", application=APP)
