"""Plain data the ledger hands out: one session as the command side or a view sees it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SessionRecord:
    """A session's details at a moment: what admins, users and auditors are shown."""

    id: str
    tenant: str
    user_id: str
    started_at: datetime
    last_active_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    applications: list[dict[str, str]] = field(default_factory=list)
    auth_methods: list[str] = field(default_factory=list)
    ended_at: datetime | None = None
    termination_reason: str | None = None
    terminated_by: str | None = None
    termination_cause: str | None = None
    idle_timeout_s: int = 0
    max_lifetime_s: int = 0

    def status_at(self, now: datetime) -> str:
        """`active`, `ended` (a termination was recorded) or `expired` (not yet recorded)."""
        if self.ended_at is not None:
            return "ended"
        return "active" if now < self.expires_at else "expired"

    def is_active_at(self, now: datetime) -> bool:
        """True when neither terminated nor past its expiry at `now`."""
        return self.ended_at is None and now < self.expires_at

    def as_dict(self) -> dict[str, Any]:
        """The record's fields as a plain dict (datetimes left as datetimes)."""
        return dict(self.__dict__)


_COPIED = (
    "tenant",
    "user_id",
    "started_at",
    "last_active_at",
    "expires_at",
    "ip",
    "user_agent",
    "ended_at",
    "termination_reason",
    "terminated_by",
    "termination_cause",
    "idle_timeout_s",
    "max_lifetime_s",
)


def record_of(session: Any) -> SessionRecord:
    """The record of a `Session` aggregate's current state."""
    return SessionRecord(
        id=session.session_id,
        applications=[dict(a) for a in session.applications],
        auth_methods=list(session.auth_methods),
        **{name: getattr(session, name) for name in _COPIED},
    )
