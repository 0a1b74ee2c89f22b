"""What projections read: the ledger's log, decoding only the events they consume.

Every projection declares `consumes`, the topics of the events it handles. A feed is the
`SessionLedger` (same name, same tables) with a mapper that decodes the events of the topics
it is given (for the shared reader of `ledger.projections.fanout`, the union of its
projections' topics) and turns every other one into a `Skipped` marker (topic and position,
state not decoded); the fan-out hands a projection a `Skipped` marker for a decoded event it
does not consume. The library's own topic filter is not used: a projection must see every
notification so that its tracking position follows the log (read-your-writes waits on it),
and a marker makes an event a projection does not handle visible in its code instead of
silently absent.
Tests: tests/integration/test_projection_kinds.py, tests/unit/test_deltas_and_cursors.py,
tests/integration/test_shared_reader.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic

from ledger.application import SessionLedger
from ledger.names import LOG_NAME


@dataclass(frozen=True)
class Skipped:
    """An event the projection does not consume (its state is not decoded)."""

    originator_id: UUID | str
    originator_version: int
    topic: str


def topics(*event_classes: type[Any]) -> frozenset[str]:
    """The topics of `event_classes` (what a projection's `consumes` holds)."""
    return frozenset(get_topic(cls) for cls in event_classes)


class FeedMapper(Mapper[UUID]):
    """Decodes the consumed events; anything else becomes `Skipped`."""

    consumes: frozenset[str] = frozenset()

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The domain event, or a `Skipped` marker for events not consumed."""
        if stored_event.topic not in self.consumes:
            return Skipped(
                stored_event.originator_id, stored_event.originator_version, stored_event.topic
            )
        return super().to_domain_event(stored_event)


class SessionLedgerFeed(SessionLedger):
    """The ledger as a projection reads it (never used to write)."""

    name = LOG_NAME
    env = {"AGGREGATE_CACHE_MAXSIZE": ""}
    consumes: frozenset[str] = frozenset()

    def construct_mapper(self) -> Mapper[UUID]:
        """A mapper that decodes only what this feed's projection consumes."""
        mapper = FeedMapper(
            transcoder=self.construct_transcoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )
        mapper.consumes = self.consumes
        return mapper


@cache
def feed_for(consumes: frozenset[str]) -> type[SessionLedgerFeed]:
    """The feed class of a projection consuming `consumes` (one class per topic set)."""
    # `name` again: the library names an application class after itself unless told.
    return type("SessionLedgerFeed", (SessionLedgerFeed,), {"name": LOG_NAME, "consumes": consumes})


def open_feed(env: dict[str, str], consumes: Iterable[str]) -> SessionLedgerFeed:
    """A feed on the log at `env` decoding `consumes`."""
    return feed_for(frozenset(consumes))(env)
