"""Pure rules of the session domain: termination reasons, expiry and client-supplied times.

No clock here: every function that needs "now" takes it as an argument. Checks of inputs
against these rules live in `ledger.validation`.
Tests: tests/unit/test_rules.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

MAX_CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_IDLE_TIMEOUT_S = 30 * 60
DEFAULT_MAX_LIFETIME_S = 10 * 60 * 60
DEFAULT_ACTIVITY_GRANULARITY_S = 60
"""Activity is recorded at most once per this many seconds per session (finer is acknowledged)."""
MAX_TIMEOUT_S = 366 * 24 * 60 * 60


class TerminationReason(StrEnum):
    """Why a session ended. Recorded on every `Session.Terminated`."""

    LOGOUT = "logout"
    BROWSER_CLOSED = "browser_closed"
    USER_TERMINATED = "user_terminated"
    ADMIN_TERMINATED = "admin_terminated"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - a reason, not a password
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_DELETED = "account_deleted"
    IDLE_TIMEOUT = "idle_timeout"
    MAX_LIFETIME = "max_lifetime"


REASON_LABELS: dict[TerminationReason, str] = {
    TerminationReason.LOGOUT: "Signed out of the application",
    TerminationReason.BROWSER_CLOSED: "Browser closed",
    TerminationReason.USER_TERMINATED: "Terminated by the user",
    TerminationReason.ADMIN_TERMINATED: "Terminated by an administrator",
    TerminationReason.PASSWORD_RESET: "Password reset",
    TerminationReason.ACCOUNT_LOCKED: "Account locked",
    TerminationReason.ACCOUNT_DISABLED: "Account disabled",
    TerminationReason.ACCOUNT_DELETED: "Account deleted",
    TerminationReason.IDLE_TIMEOUT: "Timed out after inactivity",
    TerminationReason.MAX_LIFETIME: "Reached its maximum lifetime",
}
"""What people read for each reason (the web pages take them from here)."""


class IdpReason(StrEnum):
    """The reasons the identity provider reports for one session."""

    LOGOUT = TerminationReason.LOGOUT.value
    BROWSER_CLOSED = TerminationReason.BROWSER_CLOSED.value


class RevokeReason(StrEnum):
    """The reasons an account is revoked (every session of it ends)."""

    ACCOUNT_LOCKED = TerminationReason.ACCOUNT_LOCKED.value
    ACCOUNT_DISABLED = TerminationReason.ACCOUNT_DISABLED.value
    ACCOUNT_DELETED = TerminationReason.ACCOUNT_DELETED.value


IDP_REASONS = frozenset(TerminationReason(r.value) for r in IdpReason)
REVOKE_REASONS = frozenset(TerminationReason(r.value) for r in RevokeReason)
SYSTEM_ACTOR = "system"


def expires_at(
    *, started_at: datetime, last_active_at: datetime, idle_timeout_s: int, max_lifetime_s: int
) -> datetime:
    """When the session stops being active: the earlier of its idle and its absolute limit."""
    return min(
        last_active_at + timedelta(seconds=idle_timeout_s),
        started_at + timedelta(seconds=max_lifetime_s),
    )


def expires_at_us(
    *, started_us: int, last_active_us: int, idle_timeout_s: int, max_lifetime_s: int
) -> int:
    """`expires_at` on microseconds since the epoch (how the views store and fold times).

    The views' SQL (`ledger.projections.rows.activity_update_sql`) says the same in SQL; a
    property test holds the three forms equal: tests/properties/test_expiry_rule.py.
    """
    return min(last_active_us + idle_timeout_s * 1_000_000, started_us + max_lifetime_s * 1_000_000)


def expiry_reason(
    *, started_at: datetime, last_active_at: datetime, idle_timeout_s: int, max_lifetime_s: int
) -> str:
    """Which limit `expires_at` is: `max_lifetime` when the absolute limit comes first."""
    idle_end = last_active_at + timedelta(seconds=idle_timeout_s)
    hard_end = started_at + timedelta(seconds=max_lifetime_s)
    if hard_end <= idle_end:
        return TerminationReason.MAX_LIFETIME.value
    return TerminationReason.IDLE_TIMEOUT.value
