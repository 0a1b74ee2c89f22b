"""The outbox process: follows the event log and fills each receiver's outbox, exactly once.

The library's "process application" idea (`eventsourcing.system`): what to
send is decided here, once per event and receiver, and written with the tracking position in
one transaction (`OutboxStorage.apply_batch`); sending is the delivery worker's separate,
retryable step. Events it does not consume reach it as `Skipped` markers and only move the
tracking position. Tests: tests/outbound/test_outbox.py, tests/outbound/test_end_to_end.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import Tracking

from ledger.outbound.signals import TOPICS
from ledger.outbound.store import OutboxStorage
from ledger.projections.batching import BatchingProjection


class Outbox(BatchingProjection[OutboxStorage]):
    """Buffers the log's events; each batch becomes outbox rows plus its tracking position."""

    name = "outbound"
    consumes: tuple[str, ...] = TOPICS

    def apply_batch(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        """Outbox rows and the batch's last tracking position, in one transaction."""
        self.view.apply_batch(batch)
