"""`history --at` against an independent model, for random histories, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from ledger.aggregates import SessionEnded
from ledger.bootstrap import LedgerSystem
from ledger.records import SessionRecord
from replay_tools.history import sessions_open_at
from replay_tools.log import user_events
from tests.conftest import FakeClock
from tests.replay.conftest import log_store
from tests.replay.history_model import HistoryModel, RefusedError

USERS = ["ann", "bob"]
IPS = st.sampled_from(["10.0.0.1", "10.0.0.2", None])
APPS = st.sampled_from(["mail", "wiki", None])
LIMITS = st.sampled_from([(120, 600), (300, 3600), (600, 900)])
ADVANCE = st.sampled_from([0, 1, 30, 59, 60, 61, 119, 120, 300, 601, 900, 3600])
STEP = st.one_of(
    st.tuples(st.just("start"), st.sampled_from(USERS), LIMITS, IPS, APPS),
    st.tuples(st.just("activity"), st.integers(0, 30), IPS, APPS),
    st.tuples(st.just("terminate"), st.integers(0, 30)),
    st.tuples(st.sampled_from(["terminate_all", "reset", "revoke"]), st.sampled_from(USERS)),
    st.tuples(st.just("reap")),
)
STEPS = st.lists(st.tuples(ADVANCE, STEP), min_size=1, max_size=24)
COVERING = [
    (0, ("start", "ann", (120, 600), "10.0.0.1", "mail")),
    (61, ("activity", 0, "10.0.0.2", None)),
    (30, ("start", "ann", (300, 3600), None, None)),
    (60, ("activity", 1, None, "wiki")),
    (10, ("terminate", 1)),
    (300, ("reap",)),
    (1, ("start", "bob", (600, 900), None, None)),
]
MICRO = timedelta(microseconds=1)


class Driver:
    """Sends each step to the ledger and to the model, and checks they agree on refusals."""

    def __init__(self, system: LedgerSystem, clock: FakeClock, tenant: str) -> None:
        self.ledger, self.clock, self.tenant = system.ledger, clock, tenant
        self.model = HistoryModel()
        self.sids: list[str] = []
        self.moments: list[datetime] = []

    def run(self, advance: int, step: tuple[Any, ...]) -> None:
        now = self.clock.advance(seconds=advance)
        self.moments.append(now)
        kind = step[0]
        if kind == "start":
            self._start(now, *step[1:])
        elif kind == "activity" and self.sids:
            self._activity(now, self.sids[step[1] % len(self.sids)], step[2], step[3])
        elif kind == "terminate" and self.sids:
            sid = self.sids[step[1] % len(self.sids)]
            self.ledger.terminate_session(
                tenant=self.tenant, session_id=sid, reason="admin_terminated", actor="admin"
            )
            self.model.end(sid, now=now)
        elif kind in ("terminate_all", "reset", "revoke"):
            self._end_all(now, kind, step[1])
        elif kind == "reap":
            self.ledger.expire_sessions([(self.tenant, s) for s in self.sids], now=now)
            self.model.reap(now=now)

    def _start(self, now: datetime, user: str, limits: tuple[int, int], ip: Any, app: Any) -> None:
        sid = f"s{len(self.sids)}"
        self.ledger.start_session(
            tenant=self.tenant,
            user_id=user,
            session_id=sid,
            ip=ip,
            application={"id": app, "name": app.title()} if app else None,
            idle_timeout_s=limits[0],
            max_lifetime_s=limits[1],
        )
        self.model.start(sid, user, now=now, limits=limits, ip=ip, app=app)
        self.sids.append(sid)

    def _activity(self, now: datetime, sid: str, ip: Any, app: Any) -> None:
        try:
            self.model.activity(sid, now=now, ip=ip, app=app)
            refused = False
        except RefusedError:
            refused = True
        try:
            self.ledger.record_activity(
                tenant=self.tenant,
                session_id=sid,
                ip=ip,
                application={"id": app, "name": app.title()} if app else None,
            )
            assert not refused, f"the model expected activity on {sid} at {now} to be refused"
        except SessionEnded:
            assert refused, f"the ledger refused activity on {sid} at {now}; the model did not"

    def _end_all(self, now: datetime, kind: str, user: str) -> None:
        t = self.tenant
        if kind == "terminate_all":
            self.ledger.terminate_all(tenant=t, user_id=user, reason="admin_terminated", actor="a")
        elif kind == "reset":
            self.ledger.reset_password(tenant=t, user_id=user, actor="a")
        else:
            self.ledger.revoke(tenant=t, user_id=user, reason="account_locked", actor="a")
        self.model.end_all(user, now=now)

    def query_moments(self) -> list[datetime]:
        """Every step's time and the expiry boundaries, each also one microsecond either side."""
        moments = set(self.moments)
        for s in self.model.sessions.values():
            for t, _ in [*s.activity, *s.apps, (s.started, None)]:
                moments.add(t + timedelta(seconds=s.idle))
            moments.add(s.started + timedelta(seconds=s.max_life))
        return sorted({m + d for m in moments for d in (-MICRO, timedelta(0), MICRO)})


def _as_of(r: SessionRecord) -> tuple[object, ...]:
    apps = [a["id"] for a in r.applications]
    return (r.started_at, r.last_active_at, r.expires_at, r.ip, apps)


def _tally(seen: Counter[str], driver: Driver, user: str, moment: datetime) -> None:
    for s in driver.model.sessions.values():
        if s.user != user:
            continue
        if s.started > moment:
            seen["not yet started"] += 1
        elif s.ended is not None and s.ended <= moment:
            seen["ended"] += 1
        elif not s.open_at(moment):
            seen["expired"] += 1
        else:
            seen["open"] += 1


def test_history_at_a_moment_equals_the_independent_model(
    write_only: LedgerSystem, clock: FakeClock, database_url: str
) -> None:
    """For random histories, `history --at T` names exactly the sessions the model has open at T.

    Property: for every user and every moment T around each step and each expiry boundary
    (and one microsecond either side), the sessions replayed from the log as open at T, with
    their start, last activity, expiry, address and applications as of T, equal the model's.
    Independence: the model (tests/replay/history_model.py) shares no code with the ledger or
    the replay tools; it never sees the log, only the commands this test sends, and applies
    the documented rules to them. It also predicts which activities the ledger refuses, and
    the test checks that too, so the model cannot drift from the ledger unnoticed.
    Not trivial: the answers are compared field by field, and the run must see open sessions
    and sessions left out for each reason (not yet started, ended, expired); a covering
    example guarantees each reason occurs even in the smallest run.
    """
    seen: Counter[str] = Counter()
    tenants = itertools.count()

    @given(steps=STEPS)
    @example(steps=COVERING)
    def check(steps: list[tuple[int, tuple[Any, ...]]]) -> None:
        driver = Driver(write_only, clock, tenant=f"h{next(tenants)}")
        for advance, step in steps:
            driver.run(advance, step)
        with log_store(database_url) as store:
            events = {user: user_events(store, driver.tenant, user) for user in USERS}
        for user, moment in itertools.product(USERS, driver.query_moments()):
            found = sessions_open_at(events[user], moment)
            replayed = {r.id: _as_of(r) for r in found}
            assert replayed == driver.model.open_at(user, moment), f"{user} at {moment}"
            _tally(seen, driver, user, moment)

    check()
    assert all(seen[k] > 0 for k in ("open", "not yet started", "ended", "expired")), seen
