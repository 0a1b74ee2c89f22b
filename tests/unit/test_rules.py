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


@given(
    idle=st.integers(1, 10**6),
    max_life=st.integers(1, 10**6),
    active_after=st.integers(0, 10**6),
)
def test_expiry_is_the_earlier_limit_and_the_reason_names_it(
    idle: int, max_life: int, active_after: int
) -> None:
    last = NOW + timedelta(seconds=active_after)
    end = expires_at(
        started_at=NOW, last_active_at=last, idle_timeout_s=idle, max_lifetime_s=max_life
    )
    assert end == min(last + timedelta(seconds=idle), NOW + timedelta(seconds=max_life))
    reason = expiry_reason(
        started_at=NOW, last_active_at=last, idle_timeout_s=idle, max_lifetime_s=max_life
    )
    hard = NOW + timedelta(seconds=max_life)
    assert reason == ("max_lifetime" if end == hard else "idle_timeout")
