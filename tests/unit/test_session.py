"""The `Session` aggregate's rules, without storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.aggregates import InvalidInput, Session, SessionEnded, session_uuid

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def new_session(**overrides: object) -> Session:
    fields: dict[str, object] = {
        "tenant": "acme",
        "session_id": "s1",
        "user_id": "alice",
        "at": T0,
        "ip": "10.0.0.1",
        "user_agent": "Firefox",
        "application": {"id": "mail", "name": "Mail"},
        "auth_methods": ["pwd", "otp"],
        "idle_timeout_s": 1800,
        "max_lifetime_s": 36000,
    }
    fields.update(overrides)
    return Session(**fields)  # type: ignore[arg-type]


def names(session: Session) -> list[str]:
    return [type(e).__name__ for e in session.collect_events()]


def test_session_id_is_derived_from_tenant_and_idp_session_id() -> None:
    session = new_session()
    assert session.id == session_uuid("acme", "s1")
    assert session_uuid("acme", "s1") != session_uuid("other", "s1")


def test_a_new_session_is_active_until_its_idle_timeout() -> None:
    session = new_session()
    assert session.expires_at == T0 + timedelta(minutes=30)
    assert session.is_active_at(T0 + timedelta(minutes=29))
    assert not session.is_active_at(T0 + timedelta(minutes=30))


def test_the_absolute_lifetime_caps_expiry_however_active_the_session_is() -> None:
    session = new_session(idle_timeout_s=600, max_lifetime_s=900)
    session.record_activity(at=T0 + timedelta(minutes=9), ip=None, granularity=MINUTE)
    assert session.expires_at == T0 + timedelta(minutes=15)


def test_activity_is_stored_at_most_once_per_granularity() -> None:
    session = new_session()
    session.collect_events()
    assert not session.record_activity(at=T0 + timedelta(seconds=30), ip=None, granularity=MINUTE)
    assert session.record_activity(at=T0 + timedelta(seconds=60), ip="10.0.0.2", granularity=MINUTE)
    assert not session.record_activity(at=T0 + timedelta(seconds=90), ip=None, granularity=MINUTE)
    assert names(session) == ["ActivityRecorded"]
    assert session.ip == "10.0.0.2"
    assert session.last_active_at == T0 + timedelta(seconds=60)


def test_joining_a_further_application_counts_as_activity_and_is_recorded_once() -> None:
    session = new_session()
    session.collect_events()
    at = T0 + timedelta(minutes=10)
    assert session.join(application={"id": "crm", "name": "CRM"}, at=at)
    assert not session.join(application={"id": "crm", "name": "CRM"}, at=at)
    assert names(session) == ["ApplicationJoined"]
    assert [a["id"] for a in session.applications] == ["mail", "crm"]
    assert session.last_active_at == at


def test_termination_records_reason_actor_and_cause_once() -> None:
    session = new_session()
    session.collect_events()
    at = T0 + timedelta(minutes=5)
    assert session.terminate(at=at, reason="logout", actor="alice", cause="oidc") == "logout"
    assert session.terminate(at=at, reason="admin_terminated", actor="root") is None
    assert names(session) == ["Terminated"]
    assert (session.ended_at, session.termination_reason, session.terminated_by) == (
        at,
        "logout",
        "alice",
    )
    assert session.termination_cause == "oidc"


def test_a_terminated_session_refuses_activity_and_joins() -> None:
    session = new_session()
    session.terminate(at=T0, reason="logout", actor="alice")
    with pytest.raises(SessionEnded):
        session.record_activity(at=T0 + MINUTE, ip=None, granularity=MINUTE)
    with pytest.raises(SessionEnded):
        session.join(application={"id": "x", "name": "x"}, at=T0 + MINUTE)
    assert not session.is_active_at(T0)


def test_an_expired_session_refuses_activity() -> None:
    session = new_session(idle_timeout_s=60)
    with pytest.raises(SessionEnded, match="expired"):
        session.record_activity(at=T0 + timedelta(seconds=60), ip=None, granularity=MINUTE)


def test_activity_before_the_start_is_invalid() -> None:
    session = new_session()
    with pytest.raises(InvalidInput):
        session.record_activity(at=T0 - MINUTE, ip=None, granularity=MINUTE)


def test_terminating_an_expired_session_records_the_expiry_instead() -> None:
    session = new_session(idle_timeout_s=60, max_lifetime_s=3600)
    recorded = session.terminate(at=T0 + timedelta(hours=2), reason="logout", actor="alice")
    assert recorded == "idle_timeout"
    assert session.ended_at == T0 + timedelta(seconds=60)
    assert session.terminated_by == "system"


def test_the_reaper_records_max_lifetime_when_the_absolute_limit_came_first() -> None:
    session = new_session(idle_timeout_s=600, max_lifetime_s=900)
    session.record_activity(at=T0 + timedelta(minutes=9), ip=None, granularity=MINUTE)
    assert session.expire(now=T0 + timedelta(minutes=14)) is None
    assert session.expire(now=T0 + timedelta(minutes=20)) == "max_lifetime"
    assert session.ended_at == T0 + timedelta(minutes=15)


def test_a_termination_time_before_the_start_is_recorded_as_the_start() -> None:
    session = new_session()
    session.terminate(at=T0 - timedelta(hours=1), reason="logout", actor="alice")
    assert session.ended_at == T0


def test_repeated_start_compares_the_recorded_start_fields() -> None:
    fields = new_session().start_fields()
    assert fields["user_id"] == "alice"
    assert fields["application"] == {"id": "mail", "name": "Mail"}
    assert fields["started_at"] == T0


def test_a_copy_shares_no_mutable_state_with_the_original() -> None:
    import copy

    session = new_session()
    twin = copy.deepcopy(session)
    twin.join(application={"id": "crm", "name": "CRM"}, at=T0 + MINUTE)
    twin.applications[0]["name"] = "changed"
    assert [a["id"] for a in session.applications] == ["mail"]
    assert session.applications[0]["name"] == "Mail"
    assert len(session.pending_events) == 1 and len(twin.pending_events) == 2
    assert vars(copy.deepcopy(session)) == vars(session)
