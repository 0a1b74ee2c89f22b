"""Each ledger command's events map to the CAEP / RISC signal the mapping table names."""

from __future__ import annotations

from datetime import timedelta

from ledger.bootstrap import LedgerSystem
from ledger.outbound.signals import (
    ACCOUNT_DISABLED,
    ACCOUNT_PURGED,
    CREDENTIAL_CHANGE,
    SESSION_ESTABLISHED,
    SESSION_REVOKED,
    Signal,
    signals_of_log,
)
from tests.conftest import FakeClock
from tests.outbound.conftest import log_events


def _signals(system: LedgerSystem) -> list[Signal]:
    return list(signals_of_log(e for e, _ in log_events(system)))


def test_start_is_session_established(write_only: LedgerSystem, clock: FakeClock) -> None:
    write_only.ledger.start_session(
        tenant="acme", user_id="alice", session_id="s1", auth_methods=["pwd", "otp"]
    )
    [signal] = _signals(write_only)
    assert signal.event_type == SESSION_ESTABLISHED
    assert signal.webhook_type == "session.started"
    assert (signal.tenant, signal.user_id, signal.session_id) == ("acme", "alice", "s1")
    assert signal.claims == {"event_timestamp": int(clock.now.timestamp()), "amr": ["pwd", "otp"]}
    assert signal.data["started_at"] == clock.now.isoformat()


def test_admin_termination(write_only: LedgerSystem, clock: FakeClock) -> None:
    write_only.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
    ended = clock.advance(minutes=1)
    write_only.ledger.terminate_session(
        tenant="acme", session_id="s1", reason="admin_terminated", actor="admin-7"
    )
    revoked = _signals(write_only)[-1]
    assert revoked.event_type == SESSION_REVOKED
    assert revoked.claims == {
        "event_timestamp": int(ended.timestamp()),
        "initiating_entity": "admin",
        "reason_admin": {"en": "Session revoked by administrator"},
        "reason_user": {"en": "Session revoked by administrator"},
        "reason_code": "admin_terminated",
    }
    assert revoked.data["actor"] == "admin-7"
    assert revoked.txn == revoked.event_id  # one session, one cause: its own


def test_password_reset_shares_txn(write_only: LedgerSystem, clock: FakeClock) -> None:
    for sid in ("s1", "s2"):
        write_only.ledger.start_session(tenant="acme", user_id="alice", session_id=sid)
    reset = write_only.ledger.reset_password(tenant="acme", user_id="alice", actor="alice")
    signals = _signals(write_only)[2:]
    kinds = sorted(s.event_type for s in signals)
    assert kinds == sorted([CREDENTIAL_CHANGE, SESSION_REVOKED, SESSION_REVOKED])
    assert {s.txn for s in signals} == {reset.event_id}
    change = next(s for s in signals if s.event_type == CREDENTIAL_CHANGE)
    assert change.claims["credential_type"] == "password"
    assert change.claims["change_type"] == "update"
    assert change.claims["initiating_entity"] == "user"  # a self-service reset
    assert change.session_id is None
    assert sorted(change.data["sessions_terminated"]) == ["s1", "s2"]
    revoked = [s for s in signals if s.event_type == SESSION_REVOKED]
    assert {s.claims["reason_code"] for s in revoked} == {"password_reset"}


def test_forced_reset_is_admin(write_only: LedgerSystem) -> None:
    write_only.ledger.reset_password(tenant="acme", user_id="bob", actor="helpdesk")
    [change] = _signals(write_only)
    assert change.claims["initiating_entity"] == "admin"


def test_revocations_are_risc(write_only: LedgerSystem) -> None:
    expected = {
        "account_locked": ACCOUNT_DISABLED,
        "account_disabled": ACCOUNT_DISABLED,
        "account_deleted": ACCOUNT_PURGED,
    }
    for reason, uri in expected.items():
        user = f"u-{reason}"
        write_only.ledger.start_session(tenant="acme", user_id=user, session_id=f"s-{reason}")
        outcome = write_only.ledger.revoke(tenant="acme", user_id=user, reason=reason, actor="idp")
        signals = [s for s in _signals(write_only) if s.user_id == user][1:]
        risc = next(s for s in signals if s.event_type == uri)
        assert risc.webhook_type == "account.revoked"
        assert risc.data["reason"] == reason
        revoked = next(s for s in signals if s.event_type == SESSION_REVOKED)
        assert revoked.txn == risc.txn == outcome.event_id
        assert revoked.claims["reason_admin"]["en"]


def test_expiry_is_system(write_only: LedgerSystem, clock: FakeClock) -> None:
    write_only.ledger.start_session(
        tenant="acme", user_id="alice", session_id="s1", idle_timeout_s=60
    )
    started = clock.now
    clock.advance(minutes=5)
    write_only.ledger.expire_sessions([("acme", "s1")])
    revoked = _signals(write_only)[-1]
    assert revoked.claims["initiating_entity"] == "system"
    assert revoked.claims["reason_code"] == "idle_timeout"
    assert revoked.claims["event_timestamp"] == int((started + timedelta(seconds=60)).timestamp())


def test_activity_tells_nothing(write_only: LedgerSystem, clock: FakeClock) -> None:
    write_only.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
    clock.advance(minutes=2)
    write_only.ledger.record_activity(tenant="acme", session_id="s1", application={"id": "wiki"})
    assert len(_signals(write_only)) == 1
