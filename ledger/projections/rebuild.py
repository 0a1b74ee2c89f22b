"""Rebuild a view from position 0 into fresh (scratch) tables, then swap them in.

The scratch view is filled straight from the notification log with the same projection code
as the live runner. The swap holds the live view's writers, brings the scratch view to the
live view's position in the same transaction, then renames: no event is lost or applied
twice; the live runner resumes from the rebuilt position (its next batch is refused as
already applied, and its supervisor restarts it from the new tracking position).
Used by `ledger-replay rebuild` and `verify`. Tests: tests/integration/test_rebuild.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.config import Settings
from ledger.names import LOG_NAME as APP_NAME
from ledger.persistence.schema import prepare_database
from ledger.projections.batching import SessionView
from ledger.projections.deltas import SESSION_TOPICS
from ledger.projections.feed import open_feed
from ledger.projections.registry import PROJECTIONS, open_view
from ledger.projections.swap import swap_in

SCRATCH_PREFIX = "rebuild_"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did."""

    name: str
    events: int
    position: int | None
    seconds: float
    swapped: bool


def open_events(settings: Settings) -> Any:
    """The ledger's log as the views read it (recorder and a mapper decoding what they use)."""
    prepare_database(settings.events_url)
    return open_feed(settings.events_url.library_env(), SESSION_TOPICS)


def catch_up(
    name: str,
    view: SessionView,
    app: Any,
    *,
    until: int | None = None,
    progress: Progress | None = None,
    page: int = 5000,
) -> int:
    """Apply the log after the view's position (up to `until`) to `view`; return the count."""
    projection: Any = PROJECTIONS[name].projection(view)
    position = view.max_tracking_id(APP_NAME) or 0
    count = 0
    try:
        while until is None or position < until:
            notifications = app.recorder.select_notifications(
                start=position, limit=page, stop=until, inclusive_of_start=False
            )
            if not notifications:
                break
            for notification in notifications:
                event = app.mapper.to_domain_event(notification)
                projection.process_event(event, Tracking(APP_NAME, notification.id))
            position = notifications[-1].id
            count += len(notifications)
            if progress is not None:
                progress(len(notifications))
    finally:
        projection.close()
    if projection.error is not None:
        raise projection.error
    return count


def build_scratch(
    name: str, settings: Settings, app: Any, *, progress: Progress | None = None
) -> tuple[SessionView, Any, int]:
    """Fresh scratch tables filled from position 0 to the head of the log."""
    scratch, factory = open_view(name, settings, prefix=SCRATCH_PREFIX)
    scratch.drop_tables()
    scratch.create_table()
    head = app.recorder.max_notification_id()
    count = catch_up(name, scratch, app, until=head, progress=progress)
    return scratch, factory, count


def read_range(app: Any, after: int, upto: int, *, page: int = 5000) -> list[Any]:
    """The log's events with positions in (after, upto], decoded as the projections read them."""
    events: list[Any] = []
    position = after
    while position < upto:
        notifications = app.recorder.select_notifications(
            start=position, limit=page, stop=upto, inclusive_of_start=False
        )
        if not notifications:
            break
        events += [app.mapper.to_domain_event(n) for n in notifications]
        position = notifications[-1].id
    return events


def rebuild(
    name: str,
    settings: Settings,
    *,
    progress: Progress | None = None,
    swap: bool = True,
) -> RebuildResult:
    """Rebuild view `name` from position 0 and (by default) swap it in for the live one."""
    started = time.monotonic()
    app = open_events(settings)
    live, live_factory = open_view(name, settings)
    scratch, factory, count = build_scratch(name, settings, app, progress=progress)
    try:
        if swap:
            # Most of the way outside the lock, the rest under it (see `swap_in`).
            target = live.max_tracking_id(APP_NAME)
            if target is not None:
                count += catch_up(name, scratch, app, until=target, progress=progress)
            swap_in(live, scratch, lambda after, upto: read_range(app, after, upto))
            position = live.max_tracking_id(APP_NAME)
        else:
            position = scratch.max_tracking_id(APP_NAME)
    finally:
        if not swap:
            scratch.drop_tables()
        for closing in (factory, live_factory, app):
            closing.close()
    return RebuildResult(name, count, position, time.monotonic() - started, swap)
