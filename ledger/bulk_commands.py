"""The commands that end every open session of an account, as typed objects.

`SessionLedger` runs each in one transaction: it ends the account's open sessions with the
command's reason and lets the command record what happened on the account itself (nothing
more than closing the sessions, a password reset, or a revocation). Adding a bulk command is a
class here. Tests: tests/integration/test_ledger_contract.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ledger.aggregates import Account
from ledger.aggregates.rules import TerminationReason


class BulkCommand(Protocol):
    """Ends every open session of an account; records its own account event, if any."""

    @property
    def reason(self) -> str:
        """The termination reason of every session it ends."""

    @property
    def account_event(self) -> bool:
        """True when it records an event of its own on the account (whose id is the cause)."""

    def record(
        self, account: Account, *, at: datetime, actor: str, event_id: str | None, closed: list[str]
    ) -> None:
        """Record on `account` what happened, the `closed` sessions included."""


@dataclass(frozen=True)
class EndAll:
    """Terminate all of a user's sessions (by the user, an admin, or the IdP)."""

    reason: str
    account_event = False

    def record(
        self, account: Account, *, at: datetime, actor: str, event_id: str | None, closed: list[str]
    ) -> None:
        """Only close the sessions in the account."""
        account.close_sessions(session_ids=closed, at=at)


@dataclass(frozen=True)
class ResetPassword:
    """A password reset: recorded on the account, every session ends because of it."""

    reason: str = TerminationReason.PASSWORD_RESET.value
    account_event = True

    def record(
        self, account: Account, *, at: datetime, actor: str, event_id: str | None, closed: list[str]
    ) -> None:
        """Record the reset (it closes the sessions)."""
        assert event_id is not None
        account.reset_password(at=at, actor=actor, reset_id=event_id, closed=closed)


@dataclass(frozen=True)
class Revoke:
    """The account was locked, disabled or deleted: recorded, every session ends."""

    reason: str
    account_event = True

    def record(
        self, account: Account, *, at: datetime, actor: str, event_id: str | None, closed: list[str]
    ) -> None:
        """Record the revocation (it closes the sessions)."""
        assert event_id is not None
        account.revoke(reason=self.reason, at=at, actor=actor, revoke_id=event_id, closed=closed)
