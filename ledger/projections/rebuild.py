"""Rebuild a view from position 0 into fresh (scratch) tables, then swap them in.

The scratch view is filled straight from the notification log with the same projection code
as the live runner. The swap happens only when the scratch view has processed everything the
live view has (checked under a lock, retried after a further catch-up), so no event is lost or
applied twice; the live runner then resumes from the rebuilt position.
Used by `ledger-replay rebuild` and `verify`. Tests: tests/integration/test_rebuild.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.config import Settings
from ledger.projections.batching import SessionView
from ledger.projections.registry import PROJECTIONS
from ledger.projections.runner import APP_NAME

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
    """A `SessionLedger` used only to read the log (recorder and mapper)."""
    from ledger.application import SessionLedger  # noqa: PLC0415
    from ledger.persistence.schema import prepare_database  # noqa: PLC0415

    prepare_database(settings.events_url)
    return SessionLedger(settings.events_url.library_env())


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
    projection = PROJECTIONS[name].projection(view)
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
    from ledger.bootstrap import open_view  # noqa: PLC0415

    scratch, factory = open_view(name, settings, prefix=SCRATCH_PREFIX)
    scratch.drop_tables()
    scratch.create_table()
    head = app.recorder.max_notification_id()
    count = catch_up(name, scratch, app, until=head, progress=progress)
    return scratch, factory, count


def rebuild(
    name: str,
    settings: Settings,
    *,
    progress: Progress | None = None,
    swap: bool = True,
    attempts: int = 20,
) -> RebuildResult:
    """Rebuild view `name` from position 0 and (by default) swap it in for the live one."""
    from ledger.bootstrap import open_view  # noqa: PLC0415

    started = time.monotonic()
    app = open_events(settings)
    live, live_factory = open_view(name, settings)
    scratch, factory, count = build_scratch(name, settings, app, progress=progress)
    swapped = False
    try:
        for _ in range(attempts if swap else 0):
            target = live.max_tracking_id(APP_NAME)
            if target is not None:
                count += catch_up(name, scratch, app, until=target, progress=progress)
            position = scratch.max_tracking_id(APP_NAME)
            if live.swap_in(SCRATCH_PREFIX, scratch_position=position):
                swapped = True
                break
        position = (live if swapped else scratch).max_tracking_id(APP_NAME)
    finally:
        if not swapped:
            scratch.drop_tables()
        for closing in (factory, live_factory, app):
            closing.close()
    if swap and not swapped:
        msg = f"could not swap {name}: the live view kept moving ahead; try again"
        raise RuntimeError(msg)
    return RebuildResult(name, count, position, time.monotonic() - started, swapped)
