"""The ledger's projections by name, and the view class for each database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.persistence.url import DatabaseURL
from ledger.projections.active_sessions import (
    ActiveSessions,
    PostgresActiveSessionsView,
    SQLiteActiveSessionsView,
)
from ledger.projections.batching import BatchingProjection
from ledger.projections.session_history import (
    PostgresSessionHistoryView,
    SessionHistory,
    SQLiteSessionHistoryView,
)


@dataclass(frozen=True)
class ProjectionSpec:
    """A projection class and its view classes."""

    name: str
    projection: type[BatchingProjection[Any]]
    sqlite: type[Any]
    postgres: type[Any]

    def view_class(self, url: DatabaseURL) -> type[Any]:
        """The view class for the database at `url`."""
        return self.postgres if url.is_postgres else self.sqlite


PROJECTIONS: dict[str, ProjectionSpec] = {
    "active_sessions": ProjectionSpec(
        "active_sessions",
        ActiveSessions,
        SQLiteActiveSessionsView,
        PostgresActiveSessionsView,
    ),
    "session_history": ProjectionSpec(
        "session_history",
        SessionHistory,
        SQLiteSessionHistoryView,
        PostgresSessionHistoryView,
    ),
}


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
