"""What each command of `SessionLedger` returns: what it did and the log position it reached.

`position` is the highest notification id the command wrote (None when it wrote nothing);
the API waits until every view has processed it before answering (read-your-writes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ledger.records import SessionRecord

T = TypeVar("T")


@dataclass(frozen=True)
class Decision(Generic[T]):
    """A command's decision: the aggregates to save together, and the result to return."""

    aggregates: list[Any]
    result: T


@dataclass(frozen=True)
class Outcome:
    """Base of command outcomes."""

    position: int | None = None


@dataclass(frozen=True)
class StartOutcome(Outcome):
    """A start: `created` is False when the same start was repeated."""

    session: SessionRecord | None = None
    created: bool = True


@dataclass(frozen=True)
class ActivityOutcome(Outcome):
    """Activity: `recorded` is False when it fell within the granularity (acknowledged only)."""

    recorded: bool = False
    joined: bool = False
    session: SessionRecord | None = None


@dataclass(frozen=True)
class TerminateOutcome(Outcome):
    """One termination: `terminated` is False when the session had already ended."""

    terminated: bool = False
    reason: str | None = None
    session: SessionRecord | None = None


@dataclass(frozen=True)
class BulkOutcome(Outcome):
    """Terminate all, password reset, revoke: the ids terminated for the command's reason.

    `expired` lists sessions found already expired and recorded as expired instead.
    `event_id` is the reset's or revocation's id, the `cause` of each termination.
    """

    terminated: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    event_id: str | None = None


@dataclass(frozen=True)
class ExpireOutcome(Outcome):
    """The reaper's run: (tenant, session_id, reason) of each expiry it recorded."""

    expired: list[tuple[str, str, str]] = field(default_factory=list)
