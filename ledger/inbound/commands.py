"""The ledger commands an inbound adapter may ask for, and `apply` running one on the ledger.

Each command is a plain frozen dataclass naming the `SessionLedger` method it runs; adapters
build them from foreign messages and never touch the ledger themselves. Tests:
tests/inbound/test_seam.py, and every adapter's tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.aggregates.errors import SessionConflict
from ledger.application import SessionLedger
from ledger.outcomes import ActivityOutcome, BulkOutcome, Outcome, StartOutcome, TerminateOutcome


@dataclass(frozen=True)
class StartSession:
    """Record a session start (`SessionLedger.start_session`)."""

    user_id: str
    session_id: str | None = None
    at: datetime | None = None
    ip: str | None = None
    user_agent: str | None = None
    application: Mapping[str, Any] | None = None
    auth_methods: Sequence[str] | None = None
    idle_timeout_s: int | None = None
    max_lifetime_s: int | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> StartOutcome:
        """Start the session."""
        return ledger.start_session(
            tenant=tenant,
            user_id=self.user_id,
            session_id=self.session_id,
            at=self.at,
            ip=self.ip,
            user_agent=self.user_agent,
            application=self.application,
            auth_methods=self.auth_methods,
            idle_timeout_s=self.idle_timeout_s,
            max_lifetime_s=self.max_lifetime_s,
        )


@dataclass(frozen=True)
class StartOrJoin:
    """A login that may be SSO into a session already recorded: start it, or (when the
    session exists) record the login as activity and a join of its application."""

    start: StartSession

    def run(self, ledger: SessionLedger, tenant: str) -> Outcome:
        """Start, or join when the session exists with other data."""
        try:
            return self.start.run(ledger, tenant)
        except SessionConflict:
            assert self.start.session_id is not None
            return ledger.record_activity(
                tenant=tenant,
                session_id=self.start.session_id,
                at=self.start.at,
                ip=self.start.ip,
                application=self.start.application,
            )


@dataclass(frozen=True)
class RecordActivity:
    """Record activity, or SSO into a further application (`record_activity`)."""

    session_id: str
    at: datetime | None = None
    ip: str | None = None
    application: Mapping[str, Any] | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> ActivityOutcome:
        """Record the activity."""
        return ledger.record_activity(
            tenant=tenant,
            session_id=self.session_id,
            at=self.at,
            ip=self.ip,
            application=self.application,
        )


@dataclass(frozen=True)
class EndSession:
    """End one session (`terminate_session`); with `user_id`, only that user's."""

    session_id: str
    reason: str
    actor: str
    cause: str | None = None
    at: datetime | None = None
    user_id: str | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> TerminateOutcome:
        """End the session."""
        return ledger.terminate_session(
            tenant=tenant,
            session_id=self.session_id,
            reason=self.reason,
            actor=self.actor,
            at=self.at,
            cause=self.cause,
            user_id=self.user_id,
        )


@dataclass(frozen=True)
class EndUserSessions:
    """End every open session of a user (`terminate_all`)."""

    user_id: str
    reason: str
    actor: str
    cause: str | None = None
    at: datetime | None = None
    keep_session_id: str | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> BulkOutcome:
        """End the user's sessions."""
        return ledger.terminate_all(
            tenant=tenant,
            user_id=self.user_id,
            reason=self.reason,
            actor=self.actor,
            at=self.at,
            keep_session_id=self.keep_session_id,
            cause=self.cause,
        )


@dataclass(frozen=True)
class ResetPassword:
    """Record a password reset, ending the user's sessions (`reset_password`)."""

    user_id: str
    actor: str
    cause: str | None = None
    at: datetime | None = None
    keep_session_id: str | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> BulkOutcome:
        """Record the reset."""
        return ledger.reset_password(
            tenant=tenant,
            user_id=self.user_id,
            actor=self.actor,
            at=self.at,
            keep_session_id=self.keep_session_id,
            cause=self.cause,
        )


@dataclass(frozen=True)
class RevokeAccount:
    """Record a locked, disabled or deleted account, ending its sessions (`revoke`)."""

    user_id: str
    reason: str
    actor: str
    cause: str | None = None
    at: datetime | None = None

    def run(self, ledger: SessionLedger, tenant: str) -> BulkOutcome:
        """Record the revocation."""
        return ledger.revoke(
            tenant=tenant,
            user_id=self.user_id,
            reason=self.reason,
            actor=self.actor,
            at=self.at,
            cause=self.cause,
        )


Command = (
    StartSession
    | StartOrJoin
    | RecordActivity
    | EndSession
    | EndUserSessions
    | ResetPassword
    | RevokeAccount
)
COMMAND_NAMES: dict[type[Any], str] = {
    StartSession: "start_session",
    StartOrJoin: "start_session",
    RecordActivity: "record_activity",
    EndSession: "terminate_session",
    EndUserSessions: "terminate_all",
    ResetPassword: "reset_password",
    RevokeAccount: "revoke",
}


def changed(outcome: Outcome) -> bool:
    """True when the command recorded something (not a repeat, nor an already-ended session)."""
    if isinstance(outcome, StartOutcome):
        return outcome.created
    if isinstance(outcome, ActivityOutcome):
        return outcome.recorded or outcome.joined
    if isinstance(outcome, TerminateOutcome):
        return outcome.terminated
    if isinstance(outcome, BulkOutcome):
        return bool(outcome.terminated or outcome.expired or outcome.event_id)
    return True
