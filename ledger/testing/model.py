"""The reference model of the ledger: a public, pure-Python oracle of what it must answer.

Given the commands of a story (starts, activity, application joins, terminations, password
resets, revocations, the reaper), `Model` says what the ledger must answer: which sessions are
open now (`active`), each session's history with its end time, reason and actor (`history`),
and what was open at any past moment (`open_at`); and which commands it must refuse, by kind
(`ModelError.kind`). It shares no code with the rest of `ledger` (no aggregates, no library, no
SQL; an import-linter contract in pyproject keeps it so): it is written from the documented rules
(README: expiry, termination reasons, the effect of each command), so a bug in the ledger cannot
hide by being copied into the reference.
Tests: tests/properties/test_ledger_machine.py, tests/properties/test_views_model.py,
tests/testing_kit/test_model.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

SKEW = timedelta(minutes=5)
"""How far in the future a client-supplied time may lie."""
SYSTEM = "system"
"""The actor of every expiry."""
REFUSALS = ("conflict", "ended", "future", "invalid", "not_found")
"""The kinds of `ModelError`."""


class ModelError(Exception):
    """What the model expects the ledger to refuse; `kind` is one of `REFUSALS`."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class ModelSession:
    """One session in the model: its start, its limits, what happened to it, and its end."""

    tenant: str
    sid: str
    user: str
    started: datetime
    last_active: datetime
    idle: int
    max_life: int
    ip: str | None = None
    apps: list[str] = field(default_factory=list)
    ended_at: datetime | None = None
    reason: str | None = None
    actor: str | None = None
    cause: str | None = None
    touched: list[datetime] = field(default_factory=list)
    """The times of the stored activity and joins (what moves `last_active`)."""

    def expires(self) -> datetime:
        """The earlier of the idle limit (from the last activity) and the absolute limit."""
        return self.expires_as_of(self.last_active)

    def expires_as_of(self, last_active: datetime) -> datetime:
        """The expiry had the last activity been `last_active`."""
        return min(
            last_active + timedelta(seconds=self.idle),
            self.started + timedelta(seconds=self.max_life),
        )

    def active_at(self, now: datetime) -> bool:
        """Not ended and not expired at `now` (as the session stands now)."""
        return self.ended_at is None and now < self.expires()

    def open_at(self, moment: datetime) -> bool:
        """Was it open at `moment`: started by then, not ended by then, not expired then."""
        if moment < self.started or (self.ended_at is not None and self.ended_at <= moment):
            return False
        last = max([self.started, *(t for t in self.touched if t <= moment)])
        return moment < self.expires_as_of(last)

    def expiry_reason(self) -> str:
        """`max_lifetime` when the absolute limit comes first (or together), else idle."""
        idle_end = self.last_active + timedelta(seconds=self.idle)
        hard_end = self.started + timedelta(seconds=self.max_life)
        return "max_lifetime" if hard_end <= idle_end else "idle_timeout"

    def end(self, at: datetime, reason: str, actor: str, cause: str | None) -> str | None:
        """Terminate; an already-expired session is recorded as expired instead."""
        if self.ended_at is not None:
            return None
        at = max(at, self.started)
        limit = self.expires()
        if at >= limit:
            self.reason = self.expiry_reason()
            self.ended_at, self.actor, self.cause = limit, SYSTEM, None
            return self.reason
        self.ended_at, self.reason, self.actor, self.cause = at, reason, actor, cause
        return reason


@dataclass
class Model:
    """Sessions and each user's open set, changed by the commands' rules."""

    granularity: timedelta = timedelta(seconds=60)
    sessions: dict[tuple[str, str], ModelSession] = field(default_factory=dict)
    open_sets: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def start(
        self,
        tenant: str,
        sid: str,
        user: str,
        at: datetime,
        now: datetime,
        *,
        idle: int,
        max_life: int,
        app: str | None,
        ip: str | None,
    ) -> bool:
        """True when created; False when the same start was repeated."""
        if at > now + SKEW:
            raise ModelError("future")
        existing = self.sessions.get((tenant, sid))
        if existing is not None:
            same = (
                existing.user == user
                and existing.started == at
                and existing.idle == idle
                and existing.max_life == max_life
                and existing.ip == ip  # the address as it stands now, as the ledger compares
                and (existing.apps[:1] == ([app] if app else []))
            )
            if not same:
                raise ModelError("conflict")
            return False
        self.sessions[(tenant, sid)] = ModelSession(
            tenant=tenant,
            sid=sid,
            user=user,
            started=at,
            last_active=at,
            idle=idle,
            max_life=max_life,
            ip=ip,
            apps=[app] if app else [],
        )
        self.open_sets.setdefault((tenant, user), []).append(sid)
        return True

    def activity(
        self, tenant: str, sid: str, at: datetime, app: str | None, ip: str | None = None
    ) -> bool:
        """True when an activity event would be stored (a new application joins regardless)."""
        s = self._get(tenant, sid)
        if s.ended_at is not None or at >= s.expires():
            raise ModelError("ended")
        if at < s.started:
            raise ModelError("invalid")
        recorded = at - s.last_active >= self.granularity
        if recorded:
            s.last_active = max(s.last_active, at)
            s.touched.append(at)
            if ip is not None:
                s.ip = ip
        if app is not None and app not in s.apps:
            s.apps.append(app)
            s.last_active = max(s.last_active, at)
            s.touched.append(at)
        return recorded

    def terminate(
        self,
        tenant: str,
        sid: str,
        at: datetime,
        reason: str,
        actor: str,
        *,
        user: str | None = None,
    ) -> str | None:
        """The reason recorded, or None when it had already ended."""
        s = self._get(tenant, sid)
        if user is not None and s.user != user:
            raise ModelError("not_found")
        recorded = s.end(at, reason, actor, None)
        if recorded is not None:
            self.open_sets[(tenant, s.user)].remove(sid)
        return recorded

    def bulk(
        self,
        tenant: str,
        user: str,
        at: datetime,
        reason: str,
        actor: str,
        *,
        keep: str | None = None,
        cause: str | None = None,
        records_account: bool = False,
    ) -> list[str]:
        """Terminate all open sessions of the user but `keep`; ids ended for `reason`.

        A reset or revocation (`records_account`) is recorded even for an unknown user.
        """
        if (tenant, user) not in self.open_sets and not records_account:
            return []
        ended: list[str] = []
        still: list[str] = []
        for sid in self.open_sets.get((tenant, user), []):
            if sid == keep:
                still.append(sid)
                continue
            recorded = self.sessions[(tenant, sid)].end(at, reason, actor, cause)
            if recorded == reason:
                ended.append(sid)
        self.open_sets[(tenant, user)] = still
        return ended

    def expire_all(self, now: datetime) -> list[str]:
        """The reaper: every open session past expiry is recorded as expired."""
        expired: list[str] = []
        for (tenant, _user), sids in self.open_sets.items():
            for sid in list(sids):
                s = self.sessions[(tenant, sid)]
                if now >= s.expires():
                    s.end(now, "unused", SYSTEM, None)
                    sids.remove(sid)
                    expired.append(sid)
        return expired

    def active(self, tenant: str, user: str, now: datetime) -> set[str]:
        """The user's sessions that are active at `now`."""
        return {s.sid for s in self.history(tenant, user) if s.active_at(now)}

    def open_at(self, tenant: str, user: str, moment: datetime) -> set[str]:
        """The user's sessions that were open at `moment` (any past moment of the story)."""
        return {s.sid for s in self.history(tenant, user) if s.open_at(moment)}

    def history(self, tenant: str, user: str) -> list[ModelSession]:
        """Every session of the user, open or ended (with reason and actor), earliest first."""
        mine = [s for s in self.sessions.values() if s.tenant == tenant and s.user == user]
        return sorted(mine, key=lambda s: (s.started, s.sid))

    def users(self) -> set[tuple[str, str]]:
        """Every (tenant, user) the story mentioned in a start, reset or revocation."""
        return set(self.open_sets) | {(s.tenant, s.user) for s in self.sessions.values()}

    def _get(self, tenant: str, sid: str) -> ModelSession:
        s = self.sessions.get((tenant, sid))
        if s is None:
            raise ModelError("not_found")
        return s
