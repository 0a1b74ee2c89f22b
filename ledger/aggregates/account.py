"""The `Account` aggregate: one per (tenant, user), holding the user's active session ids.

Start and terminate save the `Session` and the `Account` in one transaction, so commands
that act on "all of a user's sessions" (terminate all, password reset, revoke) see every
session recorded before them: a concurrent start conflicts on the account's version and is
retried. Tests: tests/unit/test_account.py, tests/integration/test_concurrency.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.aggregates.ids import account_uuid, event_uuid


class Account(Aggregate):
    """A user of a tenant, as far as the ledger's sessions are concerned."""

    @staticmethod
    def create_id(tenant: str, user_id: str) -> UUID:
        """Accounts are identified by tenant and the IdP's user id."""
        return account_uuid(tenant, user_id)

    @event("Registered")
    def __init__(self, *, tenant: str, user_id: str) -> None:
        self.tenant = tenant
        self.user_id = user_id
        # session_id -> started_at (ISO 8601); a dict so that snapshots stay plain JSON.
        self.active: dict[str, str] = {}
        self.last_password_reset_at: datetime | None = None
        self.revoked_reason: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Account:
        """A copy for a command: only the mutable containers are copied."""
        copy = object.__new__(Account)
        state = dict(self.__dict__)
        state["active"] = dict(self.active)
        state["_pending_events"] = list(self._pending_events)
        copy.__dict__.update(state)
        return copy

    @property
    def active_session_ids(self) -> list[str]:
        """The ids of the sessions recorded as open (some may have expired unrecorded)."""
        return list(self.active)

    def next_event_id(self) -> str:
        """The id the next event of this account will have (a termination's `cause`)."""
        return str(event_uuid(self.id, self.version + 1))

    @event("SessionAdded")
    def add_session(self, *, session_id: str, started_at: datetime) -> None:
        """Record that a session of this user started."""
        self.active[session_id] = started_at.isoformat()

    def close_sessions(self, *, session_ids: list[str], at: datetime) -> None:
        """Record that these sessions ended (ids not open are ignored; nothing if none are)."""
        closing = [sid for sid in session_ids if sid in self.active]
        if closing:
            self._sessions_closed(session_ids=closing, at=at)

    @event("SessionsClosed")
    def _sessions_closed(self, *, session_ids: list[str], at: datetime) -> None:
        for sid in session_ids:
            self.active.pop(sid, None)

    @event("PasswordReset")
    def reset_password(self, *, at: datetime, actor: str, reset_id: str, closed: list[str]) -> None:
        """Record a password reset that closed the sessions `closed`."""
        self.last_password_reset_at = at
        for sid in closed:
            self.active.pop(sid, None)

    @event("Revoked")
    def revoke(
        self, *, reason: str, at: datetime, actor: str, revoke_id: str, closed: list[str]
    ) -> None:
        """Record that the account was locked, disabled or deleted, closing `closed`."""
        self.revoked_reason = reason
        for sid in closed:
            self.active.pop(sid, None)
