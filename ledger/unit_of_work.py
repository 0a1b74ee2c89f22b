"""The aggregates a batch of commands has decided on so far, saved together at its end.

`SessionLedger.batch` decides many commands against one `UnitOfWork`: a command finds the
aggregates earlier commands of the batch changed (not a stale copy from the store), and the
pending events of all of them are committed in one transaction. `changed_since_mark` tells whether a
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
        self._handed: dict[UUID, int] = {}  # pending events of each one handed out since mark
        self._size = 0

    def get(self, aggregate_id: UUID) -> Any | None:
        """The batch's copy of the aggregate, if a command of the batch changed it."""
        aggregate = self._aggregates.get(aggregate_id)
        if aggregate is not None:
            self._handed.setdefault(aggregate_id, len(aggregate.pending_events))
        return aggregate

    def add(self, aggregates: Iterable[Any]) -> None:
        """Keep the aggregates a command decided on."""
        for aggregate in aggregates:
            self._aggregates.setdefault(aggregate.id, aggregate)

    def aggregates(self) -> list[Any]:
        """Every aggregate the batch changed."""
        return list(self._aggregates.values())

    def mark(self) -> None:
        """A command starts: remember what it is handed from now on (O(1))."""
        self._handed.clear()
        self._size = len(self._aggregates)

    def changed_since_mark(self) -> bool:
        """True when the command since `mark` changed an aggregate it was handed, or added
        one (every aggregate a command changes is handed out by `get` or added)."""
        if len(self._aggregates) != self._size:
            return True
        return any(len(self._aggregates[i].pending_events) != n for i, n in self._handed.items())
