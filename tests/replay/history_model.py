"""A plain-Python model of which sessions are open at any past moment, for the property test.

It shares no code with `ledger` or `replay_tools`: no aggregates, no events, no SQL. It is fed
the *commands* a test sends (not the log), applies the ledger's documented rules (README) to
them (expiry by
idle timeout and lifetime, activity stored at most once per granularity, application joins
count as activity, ending an expired session records its expiry) and keeps, per session, the
times of everything that happened, so it can answer "what was open at T" for any T.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta


class RefusedError(Exception):
    """The model expects the ledger to refuse this command."""


@dataclass
class ModelSession:
    """One session: when it started, its limits, and what happened to it, with times."""

    sid: str
    user: str
    started: datetime
    idle: int
    max_life: int
    ip: str | None
    apps: list[tuple[datetime, str]] = field(default_factory=list)
    activity: list[tuple[datetime, str | None]] = field(default_factory=list)
    ended: datetime | None = None

    def last_active(self, moment: datetime) -> datetime:
        """The latest activity or join at or before `moment` (the start if none)."""
        times = [t for t, _ in [*self.activity, *self.apps] if t <= moment]
        return max([self.started, *times])

    def expires(self, moment: datetime) -> datetime:
        """The expiry as it stood at `moment`."""
        return min(
            self.last_active(moment) + timedelta(seconds=self.idle),
            self.started + timedelta(seconds=self.max_life),
        )

    def open_at(self, moment: datetime) -> bool:
        """Started by `moment`, not ended by it, not expired at it."""
        ended = self.ended is not None and self.ended <= moment
        return self.started <= moment and not ended and moment < self.expires(moment)

    def ip_at(self, moment: datetime) -> str | None:
        """The address of the start, replaced by each stored activity that carried one."""
        ips = [ip for t, ip in self.activity if t <= moment and ip is not None]
        return ips[-1] if ips else self.ip

    def as_of(self, moment: datetime) -> tuple[object, ...]:
        """Start, last activity, expiry, address and application ids as they stood then."""
        last, expiry = self.last_active(moment), self.expires(moment)
        return (self.started, last, expiry, self.ip_at(moment), self.app_ids_at(moment))

    def app_ids_at(self, moment: datetime) -> list[str]:
        """The applications joined by `moment`, in order (the first one at the start)."""
        return [app for t, app in self.apps if t <= moment]


@dataclass
class HistoryModel:
    """Sessions of one tenant, driven by commands at the current time `now`."""

    granularity: timedelta = timedelta(seconds=60)
    sessions: dict[str, ModelSession] = field(default_factory=dict)

    def start(
        self,
        sid: str,
        user: str,
        *,
        now: datetime,
        limits: tuple[int, int],
        ip: str | None,
        app: str | None,
    ) -> None:
        """A new session (the test never repeats a session id)."""
        session = ModelSession(sid, user, now, limits[0], limits[1], ip)
        if app is not None:
            session.apps.append((now, app))
        self.sessions[sid] = session

    def activity(self, sid: str, *, now: datetime, ip: str | None, app: str | None) -> None:
        """Activity, maybe with SSO into `app`; refused once ended or expired."""
        s = self.sessions[sid]
        if s.ended is not None or now >= s.expires(now):
            raise RefusedError(sid)
        # The ledger records the activity (with its IP) before the application join.
        if now - s.last_active(now) >= self.granularity:
            s.activity.append((now, ip))
        if app is not None and app not in s.app_ids_at(now):
            s.apps.append((now, app))

    def end(self, sid: str, *, now: datetime) -> None:
        """Terminate (or record the expiry, if it came first); nothing if already ended."""
        s = self.sessions[sid]
        if s.ended is None:
            s.ended = min(now, s.expires(now))

    def end_all(self, user: str, *, now: datetime) -> None:
        """Terminate every session of `user` (terminate all, password reset, revoke)."""
        for s in self.sessions.values():
            if s.user == user:
                self.end(s.sid, now=now)

    def reap(self, *, now: datetime) -> None:
        """Record the expiry of every session past it."""
        for s in self.sessions.values():
            if s.ended is None and now >= s.expires(now):
                s.ended = s.expires(now)

    def open_at(self, user: str, moment: datetime) -> dict[str, tuple[object, ...]]:
        """The user's sessions open at `moment`, with their details as they stood then."""
        return {
            s.sid: s.as_of(moment)
            for s in self.sessions.values()
            if s.user == user and s.open_at(moment)
        }
