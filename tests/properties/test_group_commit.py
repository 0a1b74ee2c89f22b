"""Group commit changes how commands are written, never what is written.

Property: random commands for several users, run concurrently (one thread per user, each
user's commands in order) through the group committer, leave the same events per aggregate
and the same views as the same commands run one by one without group commit.
Independence: the reference run uses the library's plain one-save-per-command path.
What stops it passing trivially: the comparison covers every aggregate's event states and the
views' answers, and the runs must have started sessions.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.persistence.url import DatabaseURL
from tests.conftest import REQUIRE_POSTGRES, FakeClock, fresh_postgres_url, settings_on

USERS = ["u0", "u1", "u2", "u3"]
COMMANDS = st.lists(
    st.one_of(
        st.tuples(st.just("start"), st.integers(0, 3)),
        st.tuples(st.just("activity"), st.integers(0, 3)),
        st.tuples(st.just("terminate"), st.integers(0, 3)),
        st.tuples(st.just("reset"), st.just(0)),
        st.tuples(st.just("terminate_all"), st.just(0)),
    ),
    min_size=1,
    max_size=8,
)
PLANS = st.fixed_dictionaries(dict.fromkeys(USERS, COMMANDS))


def run_user(system: LedgerSystem, user: str, commands: list[tuple[str, int]]) -> None:
    ledger = system.ledger
    for kind, n in commands:
        sid = f"{user}-s{n}"
        try:
            if kind == "start":
                ledger.start_session(tenant="t", user_id=user, session_id=sid)
            elif kind == "activity":
                ledger.record_activity(tenant="t", session_id=sid, application={"id": "crm"})
            elif kind == "terminate":
                ledger.terminate_session(tenant="t", session_id=sid, reason="logout", actor=user)
            elif kind == "reset":
                ledger.reset_password(tenant="t", user_id=user, actor="idp")
            else:
                ledger.terminate_all(
                    tenant="t", user_id=user, reason="admin_terminated", actor="root"
                )
        except Exception as e:  # refusals are part of the history; compare their kinds
            system.__dict__.setdefault("refusals", []).append((user, kind, n, type(e).__name__))


def snapshot(system: LedgerSystem) -> dict[str, Any]:
    """Events per aggregate (without the library's recording timestamp) and view answers."""
    per_aggregate: dict[str, list[tuple[Any, ...]]] = {}
    for n in system.ledger.recorder.select_notifications(start=None, limit=10_000):
        event = system.ledger.mapper.to_domain_event(n)
        state = {k: v for k, v in vars(event).items() if k != "timestamp"}
        per_aggregate.setdefault(str(n.originator_id), []).append(
            (n.originator_version, n.topic, repr(sorted(state.items())))
        )
    now = system.clock()
    views = {
        user: (
            sorted(s.id for s in system.active.user_sessions("t", user, now=now)),
            sorted(
                (s.id, s.termination_reason)
                for s in system.history.user_history("t", user, limit=100).sessions
            ),
        )
        for user in USERS
    }
    refusals = sorted(system.__dict__.get("refusals", []))
    return {"events": per_aggregate, "views": views, "refusals": refusals}


def execute(settings: Settings, plans: dict[str, Any], *, concurrent: bool) -> dict[str, Any]:
    system = bootstrap(settings, clock=FakeClock(), run_projections=True)
    try:
        if concurrent:
            threads = [threading.Thread(target=run_user, args=(system, u, plans[u])) for u in USERS]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
        else:
            for user in USERS:
                run_user(system, user, plans[user])
        assert system.wait(system.ledger.recorder.max_notification_id(), timeout=20)
        return snapshot(system)
    finally:
        system.close()


def new_url(store: str, pg: DatabaseURL | None, tmp: pytest.TempPathFactory) -> str:
    """A fresh, empty database for one run of one example (never shared between examples)."""
    if store == "sqlite":
        return f"sqlite:///{tmp.mktemp('g')}/g.sqlite3"
    if pg is None:
        if REQUIRE_POSTGRES:
            pytest.fail("LEDGER_TEST_REQUIRE_POSTGRES=1 but LEDGER_TEST_POSTGRES_URL is not usable")
        pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
    return fresh_postgres_url(pg)


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
# The profiles' suppression of `function_scoped_fixture` is lifted here: this test uses only
# session-scoped fixtures and makes its databases per example, and the check keeps it so.
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(plans=PLANS)
def test_grouped_concurrent_commands_equal_one_by_one(
    plans: dict[str, Any],
    store: str,
    postgres_database: DatabaseURL | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    grouped_url, single_url = (new_url(store, postgres_database, tmp_path_factory) for _ in "gs")
    grouped = execute(
        settings_on(grouped_url, group_commit=True, group_commit_max_wait_ms=2),
        plans,
        concurrent=True,
    )
    single = execute(settings_on(single_url, group_commit=False), plans, concurrent=False)
    assert grouped == single
    starts = sum(kind == "start" for cmds in plans.values() for kind, _ in cmds)
    assert len(grouped["events"]) >= min(starts, 1), "a start was planned, so events were written"
    event(f"aggregates written: {min(len(grouped['events']), 8)}")
