"""Every follower of the log by name: views and outbound processes, one registry line each.

A `ProjectionSpec` names a projection class (which declares the event topics it `consumes`),
its storage class for SQLite and for PostgreSQL, and its kind: a `view` answers queries (the
API waits for views to catch up before answering a write), a `process` fills an outbox that a
worker delivers elsewhere. Both kinds run under the same runner with the same exactly-once
tracking. Adding either is a module and a line in `PROJECTIONS`.
Tests: tests/integration/test_projection_kinds.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.projection import Projection
from eventsourcing.utils import Environment

from ledger.config import Settings
from ledger.outbound.outbox import Outbox
from ledger.outbound.store import PostgresOutboxStorage, SQLiteOutboxStorage
from ledger.persistence.url import DatabaseURL
from ledger.projections.active_sessions import (
    ActiveSessions,
    PostgresActiveSessionsView,
    SQLiteActiveSessionsView,
)
from ledger.projections.session_counts import (
    PostgresSessionCountsView,
    SessionCounts,
    SQLiteSessionCountsView,
)
from ledger.projections.session_history import (
    PostgresSessionHistoryView,
    SessionHistory,
    SQLiteSessionHistoryView,
)

Kind = Literal["view", "process"]


@dataclass(frozen=True)
class ProjectionSpec:
    """A projection class, its storage classes, and whether it is a view or a process."""

    name: str
    projection: type[Projection[Any]]
    sqlite: type[Any]
    postgres: type[Any]
    kind: Kind = "view"

    def __post_init__(self) -> None:
        if not getattr(self.projection, "consumes", None):
            msg = f"projection {self.name!r} declares no event topics in `consumes`"
            raise TypeError(msg)

    @property
    def consumes(self) -> frozenset[str]:
        """The topics of the events this projection handles (the rest arrive as `Skipped`)."""
        return frozenset(self.projection.consumes)  # type: ignore[attr-defined]

    def view_class(self, url: DatabaseURL) -> type[Any]:
        """The storage class for the database at `url`."""
        return self.postgres if url.is_postgres else self.sqlite


PROJECTIONS: dict[str, ProjectionSpec] = {
    spec.name: spec
    for spec in [
        ProjectionSpec(
            "active_sessions", ActiveSessions, SQLiteActiveSessionsView, PostgresActiveSessionsView
        ),
        ProjectionSpec(
            "session_history", SessionHistory, SQLiteSessionHistoryView, PostgresSessionHistoryView
        ),
        ProjectionSpec(
            "session_counts", SessionCounts, SQLiteSessionCountsView, PostgresSessionCountsView
        ),
        ProjectionSpec("outbound", Outbox, SQLiteOutboxStorage, PostgresOutboxStorage, "process"),
    ]
}


def specs(kind: Kind) -> dict[str, ProjectionSpec]:
    """The registered projections of one kind, by name."""
    return {name: spec for name, spec in PROJECTIONS.items() if spec.kind == kind}


def view_env(
    name: str, events: DatabaseURL, views: DatabaseURL, *, create_tables: bool = True
) -> dict[str, str]:
    """The environment for a projection: events database, with its view's database prefixed.

    The library looks up `<NAME>_<KEY>` before `<KEY>` for a projection named NAME, so the
    view can live in another database than the events.
    """
    env = events.library_env(pool_size=1, max_overflow=3)
    env["SESSIONLEDGER_CREATE_TABLE"] = "no"  # bootstrap created the event tables already
    prefix = name.upper()
    for key, value in views.library_env(pool_size=1, max_overflow=8).items():
        env[f"{prefix}_{key}"] = value
    if not create_tables:
        env[f"{prefix}_CREATE_TABLE"] = "no"
    return env


def open_view(
    name: str, settings: Settings, *, prefix: str = "", create: bool = True
) -> tuple[Any, InfrastructureFactory[Any]]:
    """A projection's storage object on the views database (tables created), and its factory."""
    spec = PROJECTIONS[name]
    env = Environment(name, view_env(name, settings.events_url, settings.views_url))
    factory = InfrastructureFactory.construct(env=env)
    datastore = factory.datastore  # type: ignore[attr-defined]
    view = spec.view_class(settings.views_url)(datastore, prefix=prefix)
    if create:
        view.create_table()
    return view, factory
