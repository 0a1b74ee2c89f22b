"""The `Session` aggregate: one login session from its start to its one termination.

Guarantees: a terminated session never becomes active again; terminating it again records
nothing; activity and joins on an ended or expired session are refused; activity is stored
at most once per granularity. Tests: tests/unit/test_session.py, tests/properties/.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.aggregates.errors import InvalidInput, SessionEnded
from ledger.aggregates.ids import session_uuid
from ledger.aggregates.rules import SYSTEM_ACTOR, expires_at, expiry_reason

AppRef = dict[str, str]


class Session(Aggregate):
    """A user's login session at the identity provider, as the ledger recorded it."""

    @staticmethod
    def create_id(tenant: str, session_id: str) -> UUID:
        """Sessions are identified by tenant and the IdP's own session id."""
        return session_uuid(tenant, session_id)

    @event("Started")
    def __init__(
        self,
        *,
        tenant: str,
        session_id: str,
        user_id: str,
        at: datetime,
        ip: str | None,
        user_agent: str | None,
        application: AppRef | None,
        auth_methods: list[str],
        idle_timeout_s: int,
        max_lifetime_s: int,
    ) -> None:
        self.tenant = tenant
        self.session_id = session_id
        self.user_id = user_id
        self.started_at = at
        self.last_active_at = at
        self.ip = ip
        self.user_agent = user_agent
        self.applications: list[AppRef] = [dict(application)] if application else []
        self.auth_methods = list(auth_methods)
        self.idle_timeout_s = idle_timeout_s
        self.max_lifetime_s = max_lifetime_s
        self.ended_at: datetime | None = None
        self.termination_reason: str | None = None
        self.terminated_by: str | None = None
        self.termination_cause: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Session:
        """A copy for a command (the repository copies cached aggregates): only the mutable
        containers are copied; everything else is immutable."""
        copy = object.__new__(Session)
        state = dict(self.__dict__)
        state["applications"] = [dict(app) for app in self.applications]
        state["auth_methods"] = list(self.auth_methods)
        state["_pending_events"] = list(self._pending_events)
        copy.__dict__.update(state)
        return copy

    # ----------------------------------------------------------------- queries

    @property
    def expires_at(self) -> datetime:
        """When the session stops being active unless it shows activity first."""
        return expires_at(
            started_at=self.started_at,
            last_active_at=self.last_active_at,
            idle_timeout_s=self.idle_timeout_s,
            max_lifetime_s=self.max_lifetime_s,
        )

    @property
    def is_ended(self) -> bool:
        """True once a `Terminated` event has been recorded."""
        return self.ended_at is not None

    def is_active_at(self, moment: datetime) -> bool:
        """True when the session is neither terminated nor expired at `moment`."""
        return not self.is_ended and moment < self.expires_at

    def start_fields(self) -> dict[str, Any]:
        """The data of the recorded start, as compared when a start is repeated."""
        return {
            "user_id": self.user_id,
            "started_at": self.started_at,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "application": self.applications[0] if self.applications else None,
            "auth_methods": self.auth_methods,
            "idle_timeout_s": self.idle_timeout_s,
            "max_lifetime_s": self.max_lifetime_s,
        }

    # ---------------------------------------------------------------- commands

    def record_activity(self, *, at: datetime, ip: str | None, granularity: timedelta) -> bool:
        """Record activity at `at`; False when it falls within the granularity (not stored)."""
        self._check_can_change(at, "activity")
        if at - self.last_active_at < granularity:
            return False
        self._activity_recorded(at=at, ip=ip)
        return True

    def join(self, *, application: AppRef, at: datetime) -> bool:
        """Record SSO into a further application; False when it was already joined."""
        self._check_can_change(at, "joining an application")
        if any(app["id"] == application["id"] for app in self.applications):
            return False
        self._application_joined(application=dict(application), at=at)
        return True

    def terminate(
        self, *, at: datetime, reason: str, actor: str, cause: str | None = None
    ) -> str | None:
        """End the session; returns the reason recorded, or None when it had already ended.

        A session that had expired before `at` is recorded as expired at its expiry time, with
        the expiry reason and actor `system`: the log tells what really ended it.
        """
        if self.is_ended:
            return None
        ended_at = max(at, self.started_at)
        if ended_at >= self.expires_at:
            return self._expire()
        self._terminated(at=ended_at, reason=reason, actor=actor, cause=cause)
        return reason

    def expire(self, *, now: datetime) -> str | None:
        """Record the expiry if the session is past `expires_at` at `now` (the reaper)."""
        if self.is_ended or now < self.expires_at:
            return None
        return self._expire()

    def _expire(self) -> str:
        reason = expiry_reason(
            started_at=self.started_at,
            last_active_at=self.last_active_at,
            idle_timeout_s=self.idle_timeout_s,
            max_lifetime_s=self.max_lifetime_s,
        )
        self._terminated(at=self.expires_at, reason=reason, actor=SYSTEM_ACTOR, cause=None)
        return reason

    def _check_can_change(self, at: datetime, what: str) -> None:
        if self.is_ended:
            msg = f"session {self.session_id!r} ended ({self.termination_reason}); {what} refused"
            raise SessionEnded(msg)
        if at >= self.expires_at:
            msg = f"session {self.session_id!r} expired at {self.expires_at.isoformat()}"
            raise SessionEnded(f"{msg}; {what} refused")
        if at < self.started_at:
            msg = f"{what} at {at.isoformat()} is before the session started"
            raise InvalidInput(msg)

    # ------------------------------------------------------------------ events

    @event("ActivityRecorded")
    def _activity_recorded(self, *, at: datetime, ip: str | None) -> None:
        self.last_active_at = max(self.last_active_at, at)
        if ip is not None:
            self.ip = ip

    @event("ApplicationJoined")
    def _application_joined(self, *, application: AppRef, at: datetime) -> None:
        self.applications.append(application)
        self.last_active_at = max(self.last_active_at, at)

    @event("Terminated")
    def _terminated(self, *, at: datetime, reason: str, actor: str, cause: str | None) -> None:
        self.ended_at = at
        self.termination_reason = reason
        self.terminated_by = actor
        self.termination_cause = cause
