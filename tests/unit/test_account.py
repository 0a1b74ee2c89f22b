"""The `Account` aggregate: the user's open session ids, resets and revocations."""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.aggregates import Account, account_uuid
from ledger.aggregates.ids import event_uuid

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_account_id_is_derived_from_tenant_and_user() -> None:
    assert Account(tenant="acme", user_id="alice").id == account_uuid("acme", "alice")


def test_sessions_are_added_and_closed() -> None:
    account = Account(tenant="acme", user_id="alice")
    account.add_session(session_id="s1", started_at=T0)
    account.add_session(session_id="s2", started_at=T0)
    account.close_sessions(session_ids=["s1", "unknown"], at=T0)
    assert account.active_session_ids == ["s2"]


def test_closing_nothing_open_records_nothing() -> None:
    account = Account(tenant="acme", user_id="alice")
    account.collect_events()
    account.close_sessions(session_ids=["s9"], at=T0)
    assert account.collect_events() == []


def test_a_reset_closes_the_listed_sessions_and_has_a_stable_event_id() -> None:
    account = Account(tenant="acme", user_id="alice")
    account.add_session(session_id="s1", started_at=T0)
    reset_id = account.next_event_id()
    assert reset_id == str(event_uuid(account.id, account.version + 1))
    account.reset_password(at=T0, actor="idp", reset_id=reset_id, closed=["s1"])
    assert account.active_session_ids == []
    assert account.last_password_reset_at == T0
    assert type(account.collect_events()[-1]).__name__ == "PasswordReset"


def test_a_revocation_records_its_reason() -> None:
    account = Account(tenant="acme", user_id="alice")
    account.add_session(session_id="s1", started_at=T0)
    account.revoke(reason="account_locked", at=T0, actor="idp", revoke_id="x", closed=["s1"])
    assert account.revoked_reason == "account_locked"
    assert account.active_session_ids == []


def test_a_copy_shares_no_mutable_state_with_the_original() -> None:
    import copy

    account = Account(tenant="acme", user_id="alice")
    account.add_session(session_id="s1", started_at=T0)
    twin = copy.deepcopy(account)
    twin.add_session(session_id="s2", started_at=T0)
    assert account.active_session_ids == ["s1"]
    assert twin.active_session_ids == ["s1", "s2"]
    assert len(account.pending_events) == 2 and len(twin.pending_events) == 3
    assert vars(copy.deepcopy(account)) == vars(account)
