"""The aggregates a batch of commands has decided on so far, saved together at its end.

`SessionLedger.batch` decides many commands against one `UnitOfWork`: a command finds the
aggregates earlier commands of the batch changed (not a stale copy from the store), and the
pending events of all of them are committed in one transaction. `changed_since` tells whether a
command that failed had already recorded something (the batch is then decided again without
it). Tests: tests/integration/test_batch.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID


class UnitOfWork:
    """Aggregates by id, in the order the batch first changed them."""

    def __init__(self, *, optimistic: bool) -> None:
        self.optimistic = optimistic  # a start may assume its session is new (no read)
        self._aggregates: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID) -> Any | None:
        """The batch's copy of the aggregate, if a command of the batch changed it."""
        return self._aggregates.get(aggregate_id)

    def add(self, aggregates: Iterable[Any]) -> None:
        """Keep the aggregates a command decided on."""
        for aggregate in aggregates:
            self._aggregates.setdefault(aggregate.id, aggregate)

    def aggregates(self) -> list[Any]:
        """Every aggregate the batch changed."""
        return list(self._aggregates.values())

    def mark(self) -> dict[UUID, int]:
        """How many events each aggregate holds pending now."""
        return {i: len(a.pending_events) for i, a in self._aggregates.items()}

    def changed_since(self, mark: dict[UUID, int]) -> bool:
        """True when an aggregate has gained pending events since `mark` (or joined since)."""
        return any(len(a.pending_events) != mark.get(i, 0) for i, a in self._aggregates.items())
