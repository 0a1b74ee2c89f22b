"""Fills a store fast with a realistic history, made by the real aggregates and saved in bulk.

Sessions start, some show activity or join a second application, most end (logout, user or
admin termination); each start and end also changes the user's `Account`, exactly as the
commands do. Events are saved with `Application.save` in large transactions (real encoding,
real recorder, snapshots as configured), and the same events can be applied to views
directly, so a store of 10^6 sessions is ready in minutes instead of hours of commands.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eventsourcing.persistence import Tracking

from bench.infra import TENANT
from ledger.aggregates import Account, Session
from ledger.projections.deltas import fold
from ledger.projections.runner import APP_NAME

HEAVY_USER = "heavy-user"
APPS = [{"id": f"app-{n}", "name": f"Application {n}"} for n in range(20)]
REASONS = ["logout", "logout", "browser_closed", "user_terminated", "admin_terminated"]
AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
IDLE_S = 7 * 86_400  # seeded sessions stay open for the whole benchmark run
LIFETIME_S = 30 * 86_400


@dataclass
class Seeded:
    """What a seed produced."""

    sessions: int = 0
    events: int = 0
    users: int = 0
    heavy_events: int = 0
    position: int = 0
    seconds: float = 0.0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class _Spec:
    events: int | None
    sessions: int | None
    per_user: int
    ended_share: float
    heavy_every: int  # every n-th session belongs to HEAVY_USER (0: none)


def _user_of(index: int, spec: _Spec) -> str:
    if spec.heavy_every and index % spec.heavy_every == spec.heavy_every - 1:
        return HEAVY_USER
    return f"user-{index // spec.per_user}"


def _one_session(
    index: int, at: datetime, account: Account, rng: random.Random, ended_share: float
) -> Session:
    app = APPS[index % len(APPS)]
    session = Session(
        tenant=TENANT,
        session_id=f"s-{index}",
        user_id=account.user_id,
        at=at,
        ip=f"198.51.100.{index % 250 + 1}",
        user_agent=AGENT,
        application=app,
        auth_methods=["pwd", "otp"] if index % 3 == 0 else ["pwd"],
        idle_timeout_s=IDLE_S,
        max_lifetime_s=LIFETIME_S,
    )
    account.add_session(session_id=session.session_id, started_at=at)
    if rng.random() < 0.5:
        session.record_activity(at=at + timedelta(minutes=2), ip=None, granularity=timedelta(0))
    if rng.random() < 0.1:
        other = APPS[(index + 7) % len(APPS)]
        session.join(application=other, at=at + timedelta(minutes=3))
    if rng.random() < ended_share:
        ended = at + timedelta(minutes=5)
        reason = REASONS[index % len(REASONS)]
        actor = "admin-1" if reason == "admin_terminated" else account.user_id
        session.terminate(at=ended, reason=reason, actor=actor)
        account.close_sessions(session_ids=[session.session_id], at=ended)
    return session


def seed(
    app: Any,
    *,
    events: int | None = None,
    sessions: int | None = None,
    per_user: int = 10,
    ended_share: float = 0.6,
    heavy_events: int = 0,
    views: Sequence[Any] = (),
    chunk: int = 1500,
    progress: Callable[[Seeded], None] | None = None,
) -> Seeded:
    """Save sessions until `events` events (or `sessions` sessions) are in the log.

    With `heavy_events`, one user (`HEAVY_USER`) gets about that many events of their own,
    spread evenly through the log. `views` are filled from the same events as they are saved.
    """
    assert events or sessions
    total_sessions = sessions or int((events or 0) / 3.8) + 1
    heavy_every = max(2, total_sessions // max(1, heavy_events // 4)) if heavy_events else 0
    spec = _Spec(events, sessions, per_user, ended_share, heavy_every)
    rng = random.Random(20260301)
    now = datetime.now(UTC)
    step = timedelta(hours=6) / total_sessions
    start_at = now - timedelta(hours=6, minutes=10)
    accounts: dict[str, Account] = {}
    out = Seeded(first_at=start_at)
    began = time.perf_counter()
    index = 0
    while not _done(out, spec):
        batch: list[Any] = []
        touched: dict[str, Account] = {}
        for _ in range(chunk):
            if _done(out, spec, extra=len(batch)):
                break
            user = _user_of(index, spec)
            account = accounts.get(user)
            if account is None:
                account = accounts[user] = Account(tenant=TENANT, user_id=user)
                out.users += 1
            touched[user] = account
            session = _one_session(index, start_at + step * index, account, rng, ended_share)
            batch.append(session)
            if user == HEAVY_USER:
                out.heavy_events += len(session.pending_events)
            index += 1
        if HEAVY_USER in touched:
            out.heavy_events += len(touched[HEAVY_USER].pending_events)
        recordings = app.save(*batch, *touched.values())
        _apply(views, recordings)
        out.sessions += len(batch)
        out.events += len(recordings)
        out.position = recordings[-1].notification.id
        accounts = {u: a for u, a in accounts.items() if u in (HEAVY_USER, user)}
        if progress is not None:
            progress(out)
    out.last_at = start_at + step * index
    out.seconds = time.perf_counter() - began
    return out


def _done(out: Seeded, spec: _Spec, extra: int = 0) -> bool:
    if spec.sessions is not None:
        return out.sessions + extra >= spec.sessions
    assert spec.events is not None
    return out.events + extra * 4 >= spec.events


def _apply(views: Sequence[Any], recordings: Sequence[Any]) -> None:
    if not views:
        return
    # the views consume Session events only (the runner's feed hands them nothing else)
    deltas = fold(e for e in (r.domain_event for r in recordings) if isinstance(e, Session.Event))
    tracking = Tracking(APP_NAME, recordings[-1].notification.id)
    for view in views:
        view.apply(deltas, tracking)
