"""The one seam where the ledger is wired: settings in, a ready `LedgerSystem` out.

Tests swap databases and clocks here and nowhere else. Tests: tests/conftest.py uses it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import InfrastructureFactory, PersistenceError
from eventsourcing.utils import Environment

from ledger.application import Clock, SessionLedger, utc_now
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.persistence.schema import prepare_database
from ledger.projections.active_sessions import ActiveSessionsView
from ledger.projections.batching import SessionView
from ledger.projections.registry import PROJECTIONS, view_env
from ledger.projections.runner import Projections, wait_for
from ledger.projections.session_history import SessionHistoryView


@dataclass
class LedgerSystem:
    """The command side, the query-side views, and (maybe) the projections running here."""

    settings: Settings
    ledger: SessionLedger
    active: ActiveSessionsView
    history: SessionHistoryView
    projections: Projections | None = None
    clock: Clock = utc_now
    _factories: list[Any] = field(default_factory=list)

    @property
    def views(self) -> dict[str, SessionView]:
        """Every view by projection name."""
        return {"active_sessions": self.active, "session_history": self.history}

    def wait(self, position: int | None, timeout: float | None = None) -> bool:
        """Block until every view has processed `position` (read-your-writes)."""
        limit = self.settings.consistency_timeout_s if timeout is None else timeout
        return wait_for(self.views, position, limit)

    def lag(self) -> dict[str, int]:
        """How many notifications each view is behind the log."""
        head = self.ledger.recorder.max_notification_id() or 0
        return {
            name: head - (view.max_tracking_id("SessionLedger") or 0)
            for name, view in self.views.items()
        }

    def close(self) -> None:
        """Stop the projections and close every connection."""
        if self.projections is not None:
            self.projections.stop()
        self.ledger.close()
        for factory in self._factories:
            with contextlib.suppress(Exception):
                factory.close()


def open_view(
    name: str, settings: Settings, *, prefix: str = "", create: bool = True
) -> tuple[SessionView, Any]:
    """A view object on the views database (tables created if missing), and its factory."""
    spec = PROJECTIONS[name]
    env = Environment(name, view_env(name, settings.events_url, settings.views_url))
    factory = InfrastructureFactory.construct(env=env)
    view_class = spec.view_class(settings.views_url)
    datastore = factory.datastore  # type: ignore[attr-defined]
    view = view_class(datastore, prefix=prefix)
    if create:
        view.create_table()
    return view, factory


def bootstrap(
    settings: Settings, *, clock: Clock = utc_now, run_projections: bool | None = None
) -> LedgerSystem:
    """Check the databases, build the ledger and the views, maybe start the projections."""
    events, views = settings.events_url, settings.views_url
    can_create = prepare_database(events, setting="LEDGER_DATABASE_URL")
    can_create_views = can_create
    if views != events:
        can_create_views = prepare_database(views, setting="LEDGER_VIEWS_DATABASE_URL")
    env = events.library_env(pool_size=2, max_overflow=settings.pg_pool_size)
    if not can_create:
        env["CREATE_TABLE"] = "no"
    try:
        ledger = SessionLedger(
            env,
            clock=clock,
            activity_granularity_s=settings.activity_granularity_s,
            default_idle_timeout_s=settings.default_idle_timeout_s,
            default_max_lifetime_s=settings.default_max_lifetime_s,
            group_commit=settings.group_commit,
            group_commit_max_batch=settings.group_commit_max_batch,
            group_commit_max_wait_s=settings.group_commit_max_wait_ms / 1000,
        )
        active, f1 = open_view("active_sessions", settings, create=can_create_views)
        history, f2 = open_view("session_history", settings, create=can_create_views)
    except PersistenceError as e:
        raise ConfigError("LEDGER_DATABASE_URL", f"cannot use the database: {e}") from None
    system = LedgerSystem(
        settings=settings,
        ledger=ledger,
        active=active,  # type: ignore[arg-type]
        history=history,  # type: ignore[arg-type]
        clock=clock,
        _factories=[f1, f2],
    )
    if settings.run_projections if run_projections is None else run_projections:
        system.projections = Projections(
            events=events,
            views=views,
            batch=settings.projection_batch,
            create_tables=can_create_views,
        )
        system.projections.start()
    return system
