"""The shared reader: every projection of a process fed by one read of the log.

* Each event is decoded once, whatever the number of projections consuming it.
* The fan-out hands each member only the events past its own position, decoded where it
  consumes their topic and as `Skipped` markers otherwise.
* Projections at different positions (one ran alone ahead of the others) each end at the
  head with rows equal to a clean rebuild from the log: nothing applied twice, nothing missed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.projection import Projection

from ledger.aggregates import Session
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.names import LOG_NAME
from ledger.projections.deltas import STARTED
from ledger.projections.fanout import FanOut, Member, Starts
from ledger.projections.feed import FeedMapper, Skipped, topics
from ledger.projections.rebuild import build_scratch, open_events
from ledger.projections.registry import PROJECTIONS, open_view, specs
from ledger.projections.runner import ViewRunner
from tests.seeding import seed_sessions

T0 = datetime.now(UTC) - timedelta(hours=1)


def _until_at(head: int, names: list[str], settings: Settings, timeout: float = 60) -> None:
    opened = {name: open_view(name, settings) for name in names}
    try:
        deadline = time.monotonic() + timeout
        behind = dict.fromkeys(names, 0)
        while time.monotonic() < deadline:
            behind = {
                name: head - (view.max_tracking_id(LOG_NAME) or 0)
                for name, (view, _) in opened.items()
            }
            if not any(behind.values()):
                return
            time.sleep(0.05)
        pytest.fail(f"not at the head {head} in {timeout} s: behind by {behind}")
    finally:
        for _, factory in opened.values():
            factory.close()


def _assert_views_equal_a_rebuild(settings: Settings) -> None:
    app = open_events(settings)
    try:
        for name in specs("view"):
            live, live_factory = open_view(name, settings)
            scratch, scratch_factory, _ = build_scratch(name, settings, app)
            try:
                assert list(live.rows()) == list(scratch.rows()), name
            finally:
                scratch.drop_tables()
                live_factory.close()
                scratch_factory.close()
    finally:
        app.close()


def test_each_event_is_decoded_once_for_every_projection(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    head = seed_sessions(system.ledger, count=60, start=T0)
    system.close()
    decoded: list[int] = []
    original = FeedMapper.to_domain_event

    def counting(self: FeedMapper, stored: StoredEvent) -> Any:
        decoded.append(stored.originator_version)
        return original(self, stored)

    monkeypatch.setattr(FeedMapper, "to_domain_event", counting)
    running: LedgerSystem = bootstrap(settings, run_projections=True)
    try:
        _until_at(head, list(PROJECTIONS), settings)
    finally:
        running.close()
    assert len(PROJECTIONS) == 4
    assert len(decoded) == head  # not once per projection (four times as many)


def test_projections_at_different_positions_each_end_equal_to_a_rebuild(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    first = seed_sessions(system.ledger, count=80, start=T0)
    alone = ViewRunner(
        PROJECTIONS["session_counts"], events=settings.events_url, views=settings.views_url
    )
    alone.start()
    try:
        _until_at(first, ["session_counts"], settings)
    finally:
        alone.stop()
    head = seed_sessions(system.ledger, count=80, start=T0 + timedelta(minutes=5), tenant="globex")
    system.close()
    counts, factory = open_view("active_sessions", settings)
    assert counts.max_tracking_id(LOG_NAME) is None  # the others have read nothing yet
    factory.close()

    running = bootstrap(settings, run_projections=True)
    try:
        _until_at(head, list(PROJECTIONS), settings)
    finally:
        running.close()
    _assert_views_equal_a_rebuild(settings)


class Recorder(Projection[Any]):
    """A member that records what it is handed."""

    def __init__(self) -> None:
        super().__init__(view=None)
        self.got: list[tuple[str, int]] = []

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        kind = "skipped" if isinstance(domain_event, Skipped) else "event"
        self.got.append((kind, tracking.notification_id))


def test_the_fan_out_hands_each_member_only_what_it_has_not_processed() -> None:
    consumes = topics(STARTED)
    ahead, behind, other = Recorder(), Recorder(), Recorder()
    members = [
        Member("ahead", ahead, consumes, after=2),
        Member("behind", behind, consumes, after=0),
        Member("other", other, frozenset({"elsewhere"}), after=1),
    ]
    starts = Starts(members)
    assert starts.max_tracking_id(LOG_NAME) is None  # one member has processed nothing
    fan = FanOut(starts)
    session = Session(
        tenant="acme", session_id="s1", user_id="u", at=T0, ip=None, user_agent=None,
        application=None, auth_methods=[], idle_timeout_s=60, max_lifetime_s=600,
    )  # fmt: skip
    started = session.collect_events()[0]
    for position in (1, 2, 3):
        fan.process_event(started, Tracking(LOG_NAME, position))
    fan.process_event(Skipped(session.id, 2, "x:Y"), Tracking(LOG_NAME, 4))
    assert ahead.got == [("event", 3), ("skipped", 4)]
    assert behind.got == [("event", 1), ("event", 2), ("event", 3), ("skipped", 4)]
    assert other.got == [("skipped", 2), ("skipped", 3), ("skipped", 4)]
    assert Starts(members[:1]).max_tracking_id(LOG_NAME) == 2
