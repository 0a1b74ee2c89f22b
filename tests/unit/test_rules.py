"""Pure rules: reasons, timeouts, client-supplied times and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates import FutureTimestamp, InvalidInput
from ledger.aggregates.rules import IDP_REASONS, TerminationReason, expires_at, expiry_reason
from ledger.validation import client_time as check_client_time
from ledger.validation import reason as parse_reason
from ledger.validation import timeout as check_timeout

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_every_reason_of_the_design_is_known() -> None:
    assert {r.value for r in TerminationReason} == {
        "logout",
        "browser_closed",
        "user_terminated",
        "admin_terminated",
        "password_reset",
        "account_locked",
        "account_disabled",
        "account_deleted",
        "idle_timeout",
        "max_lifetime",
    }


def test_an_unknown_or_disallowed_reason_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(InvalidInput, match="logout"):
        parse_reason("nope")
    with pytest.raises(InvalidInput, match="browser_closed, logout"):
        parse_reason("admin_terminated", allowed=IDP_REASONS)
    assert parse_reason("logout", allowed=IDP_REASONS) == "logout"


def test_times_more_than_five_minutes_ahead_are_refused() -> None:
    assert check_client_time(NOW + timedelta(minutes=5), NOW) == NOW + timedelta(minutes=5)
    with pytest.raises(FutureTimestamp):
        check_client_time(NOW + timedelta(minutes=5, seconds=1), NOW)


def test_times_without_a_timezone_are_refused_and_others_are_converted_to_utc() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        check_client_time(datetime(2026, 3, 1, 12, 0), NOW)
    paris = timezone(timedelta(hours=1))
    converted = check_client_time(datetime(2026, 3, 1, 12, 0, tzinfo=paris), NOW)
    assert converted == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert converted.tzinfo == UTC


@pytest.mark.parametrize("value", [0, -1, True, 10**9, "60"])
def test_insane_timeouts_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        check_timeout(value, what="idle_timeout_s")  # type: ignore[arg-type]


seconds = st.integers(1, 10**6)


def _end(*, last: datetime, idle: int, hard: int) -> datetime:
    return expires_at(started_at=NOW, last_active_at=last, idle_timeout_s=idle, max_lifetime_s=hard)


def _reason(*, last: datetime, idle: int, hard: int) -> str:
    return expiry_reason(
        started_at=NOW, last_active_at=last, idle_timeout_s=idle, max_lifetime_s=hard
    )


# Metamorphic properties: each relates the rule's answers to each other or to its inputs,
# never to a second copy of its formula.


@given(idle=seconds, hard=seconds, after=st.integers(0, 10**6))
def test_expiry_is_never_after_either_limit_and_is_one_of_them(
    idle: int, hard: int, after: int
) -> None:
    last = NOW + timedelta(seconds=after)
    idle_limit, hard_limit = last + timedelta(seconds=idle), NOW + timedelta(seconds=hard)
    end = _end(last=last, idle=idle, hard=hard)
    assert end <= idle_limit and end <= hard_limit
    assert end in {idle_limit, hard_limit}
    reason = _reason(last=last, idle=idle, hard=hard)
    assert end == {"idle_timeout": idle_limit, "max_lifetime": hard_limit}[reason]


@given(idle=seconds, hard=seconds, after=st.integers(0, 10**6), more=st.integers(0, 10**6))
def test_later_activity_never_brings_expiry_forward(
    idle: int, hard: int, after: int, more: int
) -> None:
    early = NOW + timedelta(seconds=after)
    late = early + timedelta(seconds=more)
    assert _end(last=early, idle=idle, hard=hard) <= _end(last=late, idle=idle, hard=hard)


@given(idle=seconds, hard=seconds, after=st.integers(0, 10**6), more=st.integers(1, 10**6))
def test_a_longer_limit_never_brings_expiry_forward_and_the_reason_follows_the_binding_one(
    idle: int, hard: int, after: int, more: int
) -> None:
    last = NOW + timedelta(seconds=after)
    end = _end(last=last, idle=idle, hard=hard)
    reason = _reason(last=last, idle=idle, hard=hard)
    longer_idle = _end(last=last, idle=idle + more, hard=hard)
    longer_hard = _end(last=last, idle=idle, hard=hard + more)
    assert end <= longer_idle and end <= longer_hard
    # Lengthening the limit that does not bind changes nothing; lengthening the binding one
    # moves the end (unless the two limits were equal), never backwards.
    if reason == "idle_timeout":
        assert longer_hard == end and longer_idle > end
    else:
        assert longer_idle == end and longer_hard >= end


@given(idle=seconds, hard=seconds, after=st.integers(0, 10**6))
def test_activity_only_extends_while_the_idle_limit_binds(idle: int, hard: int, after: int) -> None:
    """Right after the start, the idle limit binds when it is the shorter one, and a session
    never outlives its maximum lifetime however active it is."""
    at_start = _reason(last=NOW, idle=idle, hard=hard)
    assert at_start == ("idle_timeout" if idle < hard else "max_lifetime")
    forever = _end(last=NOW + timedelta(seconds=hard + after), idle=idle, hard=hard)
    assert forever == NOW + timedelta(seconds=hard)
    assert _reason(last=NOW + timedelta(seconds=hard + after), idle=idle, hard=hard) == (
        "max_lifetime"
    )


def test_the_examples_read_in_the_rule() -> None:
    """Hand-worked cases: 30 min idle, 10 h maximum."""
    idle, hard = 30 * 60, 10 * 60 * 60
    assert _end(last=NOW, idle=idle, hard=hard) == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    at_nine = NOW + timedelta(hours=9, minutes=45)
    assert _end(last=at_nine, idle=idle, hard=hard) == datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    assert _reason(last=at_nine, idle=idle, hard=hard) == "max_lifetime"
    assert _reason(last=NOW, idle=idle, hard=hard) == "idle_timeout"
