"""Folds a batch of `Session` events into one net change per session (pure, no I/O).

Both views apply a batch as these deltas in one transaction with the batch's last tracking
position, so a batch is applied exactly once or not at all.
Tests: tests/unit/test_deltas_and_cursors.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from ledger.aggregates import Session
from ledger.aggregates.rules import expires_at_us
from ledger.projections.feed import Skipped, topics

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The event classes the @event decorator made (attributes mypy cannot see).
STARTED: type[Any] = Session.Started  # type: ignore[attr-defined]
ACTIVITY: type[Any] = Session.ActivityRecorded  # type: ignore[attr-defined]
JOINED: type[Any] = Session.ApplicationJoined  # type: ignore[attr-defined]
TERMINATED: type[Any] = Session.Terminated  # type: ignore[attr-defined]
SESSION_TOPICS = topics(STARTED, ACTIVITY, JOINED, TERMINATED)
"""What the session views consume: every `Session` event (no `Account` event)."""


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (how views store times: exact and fast to compare)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value: int) -> datetime:
    """The UTC datetime of `to_us` output."""
    return EPOCH + timedelta(microseconds=value)


@dataclass
class SessionDelta:
    """The net change of one session within a batch of events."""

    key: UUID
    start: dict[str, Any] | None = None
    last_active_us: int | None = None
    ip: str | None = None
    joined: list[dict[str, str]] = field(default_factory=list)
    ended_us: int | None = None
    reason: str | None = None
    actor: str | None = None
    cause: str | None = None

    @property
    def ended(self) -> bool:
        """True when the batch holds the session's termination."""
        return self.ended_us is not None

    def start_row(self) -> dict[str, Any]:
        """The full row of a session started in this batch, later events folded in."""
        assert self.start is not None
        s = self.start
        started = to_us(s["at"])
        last_active = max(started, self.last_active_us or started)
        apps = ([s["application"]] if s["application"] else []) + self.joined
        hard = started + s["max_lifetime_s"] * 1_000_000
        expires = expires_at_us(
            started_us=started,
            last_active_us=last_active,
            idle_timeout_s=s["idle_timeout_s"],
            max_lifetime_s=s["max_lifetime_s"],
        )
        return {
            "tenant": s["tenant"],
            "session_id": s["session_id"],
            "user_id": s["user_id"],
            "started_at": started,
            "last_active_at": last_active,
            "expires_at": expires,
            "hard_expires_at": hard,
            "idle_timeout_s": s["idle_timeout_s"],
            "ip": self.ip if self.ip is not None else s["ip"],
            "user_agent": s["user_agent"],
            "applications": apps,
            "auth_methods": list(s["auth_methods"]),
        }


def fold(events: Iterable[Any]) -> list[SessionDelta]:
    """One delta per session touched by `events`, in order of first appearance."""
    deltas: dict[UUID, SessionDelta] = {}
    for event in events:
        kind = type(event)
        if kind is Skipped:  # an Account event: the views keep no account state
            continue
        if kind is STARTED:
            key = event.originator_id
            delta = deltas.setdefault(key, SessionDelta(key=key))
            delta.start = dict(vars(event))
            continue
        if kind not in _SESSION_UPDATES:
            raise TypeError(f"the session views do not consume {kind.__qualname__}")
        key = event.originator_id
        delta = deltas.get(key) or deltas.setdefault(key, SessionDelta(key=key))
        if kind is ACTIVITY:
            at = to_us(event.at)
            delta.last_active_us = max(delta.last_active_us or at, at)
            if event.ip is not None:
                delta.ip = event.ip
        elif kind is JOINED:
            at = to_us(event.at)
            delta.last_active_us = max(delta.last_active_us or at, at)
            delta.joined.append(dict(event.application))
        else:
            delta.ended_us = to_us(event.at)
            delta.reason, delta.actor, delta.cause = event.reason, event.actor, event.cause
    return list(deltas.values())


_SESSION_UPDATES = frozenset({ACTIVITY, JOINED, TERMINATED})
