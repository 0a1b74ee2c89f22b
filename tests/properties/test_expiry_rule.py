"""The expiry rule is defined once (`ledger.aggregates.rules`); every other form equals it.

Property: for random start times, activity and limits, the rule's datetime form, its
microsecond form (what the views' fold uses), and the SQL of both views on a real database
(after a start and a later activity, which the views apply as an UPDATE) give the same
`expires_at`. Compared against `rules.expires_at` computed independently of the views; it
cannot pass trivially: the two limits are drawn so that either can come first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import Tracking
from hypothesis import given
from hypothesis import strategies as st

from ledger.aggregates import Session
from ledger.aggregates.rules import expires_at, expires_at_us
from ledger.config import Settings
from ledger.names import LOG_NAME
from ledger.persistence.schema import prepare_database
from ledger.projections.deltas import fold, to_us
from ledger.projections.registry import open_view

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
starts = st.integers(min_value=0, max_value=10**12).map(lambda us: T0 + timedelta(microseconds=us))
limits = st.integers(min_value=1, max_value=366 * 86_400)
later = st.integers(min_value=60 * 1_000_000, max_value=400 * 86_400 * 1_000_000)


def story(sid: str, started: datetime, idle: int, hard: int, active_after_us: int) -> Session:
    session = Session(
        tenant="acme",
        session_id=sid,
        user_id="ann",
        at=started,
        ip=None,
        user_agent=None,
        application=None,
        auth_methods=[],
        idle_timeout_s=idle,
        max_lifetime_s=hard,
    )
    session._activity_recorded(at=started + timedelta(microseconds=active_after_us), ip=None)
    return session


def rule(started: datetime, idle: int, hard: int, active_after_us: int) -> datetime:
    last = started + timedelta(microseconds=active_after_us)
    return expires_at(
        started_at=started, last_active_at=last, idle_timeout_s=idle, max_lifetime_s=hard
    )


@given(started=starts, idle=limits, hard=limits, after=later)
def test_the_microsecond_form_and_the_fold_equal_the_rule(
    started: datetime, idle: int, hard: int, after: int
) -> None:
    expected = to_us(rule(started, idle, hard, after))
    assert expected == expires_at_us(
        started_us=to_us(started),
        last_active_us=to_us(started) + after,
        idle_timeout_s=idle,
        max_lifetime_s=hard,
    )
    (delta,) = fold(story("s", started, idle, hard, after).collect_events())
    assert delta.start_row()["expires_at"] == expected


def test_the_views_sql_equals_the_rule(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    prepare_database(settings.events_url)
    views = [open_view(name, settings) for name in ("active_sessions", "session_history")]
    ids, positions = itertools.count(), itertools.count(1)
    try:

        @given(started=starts, idle=limits, hard=limits, after=later)
        def check(started: datetime, idle: int, hard: int, after: int) -> None:
            sid = f"s{next(ids)}"
            start, activity = story(sid, started, idle, hard, after).collect_events()
            for view, _ in views:  # two batches: the activity is an UPDATE in SQL
                view.apply(fold([start]), Tracking(LOG_NAME, next(positions)))
                view.apply(fold([activity]), Tracking(LOG_NAME, next(positions)))
            expected = rule(started, idle, hard, after)
            active, history = views[0][0], views[1][0]
            assert active.get("acme", sid, now=T0).expires_at == expected
            assert history.get("acme", sid).expires_at == expected

        check()
    finally:
        for _, factory in views:
            factory.close()
