"""History at a moment: which of a user's sessions were open at a given time, from the log.

A session is open at T when it started at or before T, no termination at or before T is
recorded, and T lies before its expiry as it stood at T: `expires_at` over the activity and
application joins that happened at or before T (`ledger.aggregates.rules.expires_at`). Times
are the events' own times (`at`), not when they were recorded. Each session is reported
as it stood at T. Tests: tests/replay/test_history_model.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.aggregates.rules import expires_at
from ledger.records import SessionRecord
from replay_tools.log import LogEvent


def sessions_open_at(events: Iterable[LogEvent], moment: datetime) -> list[SessionRecord]:
    """The sessions among `events` open at `moment`, earliest start first."""
    by_session: dict[UUID, list[LogEvent]] = {}
    for event in events:
        if event.name.startswith("Session."):
            by_session.setdefault(event.aggregate_id, []).append(event)
    records = (session_at(evs, moment) for evs in by_session.values())
    open_ = [r for r in records if r is not None and r.is_active_at(moment)]
    return sorted(open_, key=lambda r: (r.started_at, r.id))


def session_at(events: Iterable[LogEvent], moment: datetime) -> SessionRecord | None:
    """One session as it stood at `moment` (None if it had not started yet)."""
    state: dict[str, Any] | None = None
    for event in sorted(events, key=lambda e: e.version):
        if event.time > moment:
            continue
        if event.kind == "Started":
            state = _started(event.data)
        elif state is not None:
            _apply(state, event)
    if state is None:
        return None
    state["expires_at"] = expires_at(
        started_at=state["started_at"],
        last_active_at=state["last_active_at"],
        idle_timeout_s=state["idle_timeout_s"],
        max_lifetime_s=state["max_lifetime_s"],
    )
    return SessionRecord(**state)


def _started(data: dict[str, Any]) -> dict[str, Any]:
    app = data.get("application")
    return {
        "id": data["session_id"],
        "tenant": data["tenant"],
        "user_id": data["user_id"],
        "started_at": data["at"],
        "last_active_at": data["at"],
        "expires_at": data["at"],
        "ip": data.get("ip"),
        "user_agent": data.get("user_agent"),
        "applications": [dict(app)] if app else [],
        "auth_methods": list(data.get("auth_methods") or []),
        "idle_timeout_s": data["idle_timeout_s"],
        "max_lifetime_s": data["max_lifetime_s"],
    }


def _apply(state: dict[str, Any], event: LogEvent) -> None:
    data = event.data
    if event.kind == "ActivityRecorded":
        state["last_active_at"] = max(state["last_active_at"], data["at"])
        if data.get("ip") is not None:
            state["ip"] = data["ip"]
    elif event.kind == "ApplicationJoined":
        state["last_active_at"] = max(state["last_active_at"], data["at"])
        state["applications"].append(dict(data["application"]))
    elif event.kind == "Terminated":
        state["ended_at"] = data["at"]
        state["termination_reason"] = data.get("reason")
        state["terminated_by"] = data.get("actor")
        state["termination_cause"] = data.get("cause")
