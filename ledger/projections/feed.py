"""What the projections read: the ledger's log, decoding only the events views use.

The views are kept from `Session` events alone; `Account` events only move the tracking
position. `SessionLedgerFeed` is the `SessionLedger` (same name, same tables) with a mapper
that turns every other event into a `Skipped` marker without decoding its state, which roughly
halves the work of a catch-up. Tests: tests/integration/test_projection_runner.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from ledger.application import SessionLedger

SESSION_TOPIC_PREFIX = "ledger.aggregates.session:Session."


@dataclass(frozen=True)
class Skipped:
    """An event no view uses (its state is not decoded)."""

    originator_id: UUID | str
    originator_version: int
    topic: str


class ViewFeedMapper(Mapper[UUID]):
    """Decodes `Session` events; anything else becomes `Skipped`."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        """The domain event, or a `Skipped` marker for events no view uses."""
        if not stored_event.topic.startswith(SESSION_TOPIC_PREFIX):
            return Skipped(
                stored_event.originator_id, stored_event.originator_version, stored_event.topic
            )
        return super().to_domain_event(stored_event)


class SessionLedgerFeed(SessionLedger):
    """The ledger as the projections read it (never used to write)."""

    name = "SessionLedger"
    env = {"AGGREGATE_CACHE_MAXSIZE": ""}

    def construct_mapper(self) -> Mapper[UUID]:
        """A mapper that skips what the views do not use."""
        return ViewFeedMapper(
            transcoder=self.construct_transcoder(),
            cipher=self.factory.cipher(),
            compressor=self.factory.compressor(),
        )
