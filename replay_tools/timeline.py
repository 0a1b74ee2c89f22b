"""A user's timeline: every event of their sessions and account, in log order, explained.

Each entry says when it happened, which session it concerns, what happened, why (reason),
who did it (actor) and what caused it (cause: the id of the password reset or revocation
that ended a session, a logout channel, a back-channel token id). Read from the log alone.
Tests: tests/replay/test_cli.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from replay_tools.log import LogEvent


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a user's history, ready to show."""

    position: int
    time: datetime
    recorded_at: datetime
    session_id: str | None
    event: str
    reason: str | None
    actor: str | None
    cause: str | None
    details: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return dict(self.__dict__)


def timeline(
    events: Iterable[LogEvent], *, since: datetime | None = None, until: datetime | None = None
) -> list[TimelineEntry]:
    """The entries of `events` (in log order) whose time lies in [since, until)."""
    sessions: dict[UUID, str] = {}
    entries = []
    for event in events:
        if event.name == "Session.Started":
            sessions[event.aggregate_id] = event.data["session_id"]
        if (since is not None and event.time < since) or (
            until is not None and event.time >= until
        ):
            continue
        entries.append(entry_of(event, sessions.get(event.aggregate_id)))
    return entries


def entry_of(event: LogEvent, session_id: str | None) -> TimelineEntry:
    """One event as a timeline entry."""
    data = event.data
    if event.name.startswith("Account."):
        session_id = data.get("session_id")
    return TimelineEntry(
        position=event.position,
        time=event.time,
        recorded_at=event.recorded_at,
        session_id=session_id,
        event=event.name,
        reason=data.get("reason"),
        actor=data.get("actor"),
        cause=data.get("cause"),
        details=_details(event),
    )


def _details(event: LogEvent) -> str:
    data = event.data
    parts: list[str] = []
    if data.get("user_id") and event.kind in ("Started", "Registered"):
        parts.append(f"user {data['user_id']}")
    if data.get("ip"):
        parts.append(f"ip {data['ip']}")
    if data.get("application"):
        app = data["application"]
        parts.append(f"application {app.get('name') or app.get('id')} ({app.get('id')})")
    if data.get("auth_methods"):
        parts.append("auth " + "+".join(data["auth_methods"]))
    for key in ("reset_id", "revoke_id"):
        if data.get(key):
            parts.append(f"event id {data[key]}")
    closed = data.get("closed") or data.get("session_ids")
    if closed:
        parts.append("closed " + ", ".join(closed))
    elif "closed" in data:
        parts.append("no session open")
    return "; ".join(parts)
