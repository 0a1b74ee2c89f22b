"""Random stories through the ledger: the views equal the model, a rebuild, and each other.

Properties, for random stories of the testing kit (`ledger.testing.strategies.stories`, with
steps the ledger must refuse among them):
1. after the runners have caught up, `active_sessions` lists for every user exactly the
   sessions the kit's reference model (`ledger.testing.model`) says are active at the query
   time, with the model's last activity and applications, and `session_history` has the
   model's end time, reason and actor for every session (`ledger.testing.checks`);
2. a view rebuilt from position 0 into fresh tables equals the one built incrementally;
3. SQLite and PostgreSQL give the same answers to the same story.
The model shares no code with the ledger; the commands' own results and refusals (by kind) are
compared too. Every example gets its own database (a SQLite file, a PostgreSQL schema), and
each test counts, after its run, that stories started and ended sessions, so empty runs
cannot pass for the whole property.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings, load_settings
from ledger.persistence.url import DatabaseURL
from ledger.projections.rebuild import build_scratch, open_events
from ledger.testing.checks import assert_views_agree, play
from ledger.testing.model import Model
from ledger.testing.sandbox import ManualClock
from ledger.testing.story import Step
from ledger.testing.strategies import Cast, stories

CAST = Cast(tenants=("t",), users=("u1", "u2"), idle=(300, 3600), max_life=(7200,))
STORIES = stories(cast=CAST, max_steps=25, refusals=True)
ALL_CHECKS = settings(suppress_health_check=())  # every health check on


def run_story(story: list[Step], system: LedgerSystem, clock: ManualClock) -> Model:
    """Play `story` on the ledger and on a model (results and refusals must agree)."""
    model = Model()
    for step in story:
        kind = (
            "refused" if play(step, ledger=system.ledger, model=model, clock=clock) is None else ""
        )
        event(f"{type(step).__name__} {kind}".strip())
    assert system.wait(system.ledger.recorder.max_notification_id(), timeout=20), system.lag()
    return model


def answers(system: LedgerSystem, now: datetime) -> dict[str, Any]:
    """Everything the views say about tenant `t`, as plain data."""
    out: dict[str, Any] = {}
    for user in CAST.users:
        out[f"active/{user}"] = [
            (s.id, s.last_active_at, s.expires_at, [a["id"] for a in s.applications])
            for s in system.active.user_sessions("t", user, now=now)
        ]
        out[f"history/{user}"] = [
            (s.id, s.ended_at, s.termination_reason, s.terminated_by)
            for s in system.history.user_history("t", user, limit=100).sessions
        ]
    out["list"] = [s.id for s in system.active.list_sessions("t", now=now, limit=100).sessions]
    return out


def _rows(view: Any) -> list[Any]:
    """Every row of a view's tables (`rows` is on the concrete views)."""
    return list(view.rows())


def check_rebuild(system: LedgerSystem) -> None:
    app = open_events(system.settings)
    try:
        for name, live in system.views.items():
            scratch, factory, _ = build_scratch(name, system.settings, app)
            assert _rows(scratch) == _rows(live), name
            scratch.drop_tables()
            factory.close()
    finally:
        app.close()


def fresh_urls(
    backend: str, tmp_path: Path, postgres_database: DatabaseURL | None
) -> Callable[[], str]:
    """A new empty database per call: a SQLite file, or a PostgreSQL schema of its own."""
    if backend == "sqlite":
        return lambda: f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.sqlite3"
    if postgres_database is None:
        pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
    db = postgres_database
    auth = db.user + (f":{db.password}" if db.password else "")
    base = f"postgresql://{auth}@{db.host}:{db.port}/{db.dbname}"
    return lambda: f"{base}?schema=v_{uuid.uuid4().hex[:12]}"


def test_views_equal_the_model_and_a_rebuild(
    make_settings: Callable[..., Settings],
    backend: str,
    tmp_path: Path,
    postgres_database: DatabaseURL | None,
) -> None:
    """Property 1 and 2 on each backend; then: the stories did start and end sessions."""
    new_url = fresh_urls(backend, tmp_path, postgres_database)
    seen: Counter[str] = Counter()

    @ALL_CHECKS
    @given(story=STORIES)
    def views_agree(story: list[Step]) -> None:
        clock = ManualClock()
        system = bootstrap(make_settings(database_url=new_url()), clock=clock, run_projections=True)
        try:
            model = run_story(story, system, clock)
            assert_views_agree(system, model, clock())
            check_rebuild(system)
        finally:
            system.close()
        seen["started"] += len(model.sessions)
        seen["ended"] += sum(s.ended_at is not None for s in model.sessions.values())

    views_agree()
    assert seen["started"] > 0, seen
    assert seen["ended"] > 0, seen


@pytest.mark.postgres
def test_sqlite_and_postgres_give_the_same_answers(
    tmp_path: Path, postgres_database: DatabaseURL | None
) -> None:
    """Property 3; then: some stories had sessions to compare."""
    sqlite_urls = fresh_urls("sqlite", tmp_path, None)
    postgres_urls = fresh_urls("postgres", tmp_path, postgres_database)
    compared: Counter[str] = Counter()

    @ALL_CHECKS
    @given(story=STORIES)
    def same_answers(story: list[Step]) -> None:
        results = []
        for url in (sqlite_urls(), postgres_urls()):
            clock = ManualClock()
            system = bootstrap(
                load_settings(database_url=url, group_commit=False),
                clock=clock,
                run_projections=True,
            )
            try:
                run_story(story, system, clock)
                results.append(answers(system, clock()))
            finally:
                system.close()
        assert results[0] == results[1]
        compared["with sessions"] += int(any(results[0][f"active/{u}"] for u in CAST.users))
        compared["with history"] += int(any(results[0][f"history/{u}"] for u in CAST.users))

    same_answers()
    assert compared["with history"] > 0, compared
