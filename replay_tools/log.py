"""The event log as the replay tools read it: decoded events with their log positions.

Reads the events table directly and read-only (through `ledger.log_store.LogStore`) and decodes
each stored state with the ledger's own transcoder; the views are never consulted. A user's
events are their `Account` aggregate's and those of every session it lists, up to one head
position, so one answer never mixes two moments of the log.
Tests: tests/replay/test_history_model.py, tests/replay/test_cli.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from uuid import UUID

from ledger.aggregates import account_uuid, session_uuid
from ledger.config import Settings
from ledger.log_store import CorruptEventError, EventRow, LogStore
from ledger.persistence.transcoder import OrjsonTranscoder


@dataclass(frozen=True)
class LogEvent:
    """One decoded event: its position in the log, its aggregate and its recorded fields."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        """`Session.Started`, `Account.PasswordReset`, ..."""
        return self.topic.rsplit(":", 1)[-1]

    @property
    def kind(self) -> str:
        """The event's own name without the aggregate: `Started`, `Terminated`, ..."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def recorded_at(self) -> datetime:
        """When the ledger recorded the event (the library's `timestamp`)."""
        value: datetime = self.data["timestamp"]
        return value

    @property
    def time(self) -> datetime:
        """When it happened: `at` (`started_at` for a session added), else when recorded."""
        value = self.data.get("at") or self.data.get("started_at") or self.recorded_at
        assert isinstance(value, datetime)
        return value


@cache
def _transcoder() -> OrjsonTranscoder:
    return OrjsonTranscoder()


def decode(row: EventRow) -> LogEvent:
    """The stored row as a `LogEvent` (times as UTC datetimes)."""
    try:
        data = _transcoder().decode(row.state)
    except ValueError as e:
        raise CorruptEventError(row.position, f"its state is not readable ({e})") from None
    return LogEvent(row.position, row.aggregate_id, row.version, row.topic, data)


@contextmanager
def open_log(settings: Settings) -> Iterator[LogStore]:
    """The ledger's events database (ConfigError naming LEDGER_DATABASE_URL if unusable)."""
    with LogStore.open(settings.events_url) as store:
        yield store


def user_events(store: LogStore, tenant: str, user_id: str) -> list[LogEvent]:
    """Every event of the user's account and sessions, in log order, up to the current head."""
    head = store.head()
    account = [decode(r) for r in store.aggregate_rows([account_uuid(tenant, user_id)])]
    session_ids = [e.data["session_id"] for e in account if e.name == "Account.SessionAdded"]
    keys = list(dict.fromkeys(session_uuid(tenant, sid) for sid in session_ids))
    sessions = [decode(r) for r in store.aggregate_rows(keys)]
    events = [e for e in account + sessions if e.position <= head]
    return sorted(events, key=lambda e: e.position)
