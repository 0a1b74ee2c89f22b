"""A `Projection` that applies events to its view in batches, one transaction per batch.

The library's `ProjectionRunner` hands over one event at a time; committing each on its own
caps a view at a few thousand events per second. Here the runner's thread only buffers, and a
writer thread applies whatever has accumulated as one transaction holding the view rows and
the batch's last tracking position: exactly once, resumable, and batches grow by themselves
under load (natural batching). A full buffer makes the runner's thread wait (back-pressure).
Tests: tests/integration/test_projection_runner.py.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, Generic

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from typing_extensions import TypeVar

from ledger.projections import positions
from ledger.projections.deltas import SessionDelta, fold
from ledger.projections.storage import ViewStorage

TView = TypeVar("TView", bound=ViewStorage, default=ViewStorage)


class SessionView(ViewStorage):
    """A view kept from `Session` events."""

    def apply(self, deltas: Sequence[SessionDelta], tracking: Tracking) -> None:
        """Apply one batch's net changes and its tracking position in one transaction,
        then post the position (`ledger.projections.positions`) for commands waiting here."""
        with self.txn(commit=True) as cursor:
            self.apply_rows(cursor, deltas, tracking)
        positions.post(self.location(), tracking.notification_id)

    @abstractmethod
    def apply_rows(self, c: Any, deltas: Sequence[SessionDelta], tracking: Tracking) -> None:
        """Apply a batch in the caller's transaction (cursor `c`): tracking, then rows."""

    @abstractmethod
    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every row of the view as plain tuples, in key order (rebuilds and `verify` compare)."""


class BatchingProjection(Projection[TView], Generic[TView]):
    """Buffers events; a writer thread applies them to the view in batches."""

    max_batch = 2000

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        self._buffer: list[tuple[Any, Tracking]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.error: BaseException | None = None
        self.batches = 0
        self.events = 0
        self._writer = threading.Thread(target=self._write_loop, name=f"{self.name}-writer")
        self._writer.daemon = True
        self._writer.start()

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Buffer the event (the writer thread applies it); re-raise a writer failure."""
        with self._cond:
            while len(self._buffer) >= self.max_batch and self.error is None:
                self._cond.wait(0.5)
            if self.error is not None:
                raise self.error
            self._buffer.append((domain_event, tracking))
            if len(self._buffer) == 1:  # the writer waits only on an empty buffer
                self._cond.notify_all()

    def close(self) -> None:
        """Apply what is buffered, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._writer.join(timeout=30)

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._buffer and not self._closed:
                    self._cond.wait()
                if not self._buffer and self._closed:
                    return
                batch, self._buffer = self._buffer, []
                self._cond.notify_all()
            try:
                self.apply_batch(batch)
            except BaseException as e:
                with self._cond:
                    self.error = e
                    self._buffer.clear()
                    self._cond.notify_all()
                return
            self.batches += 1
            self.events += len(batch)

    def apply_batch(self, batch: Sequence[tuple[Any, Tracking]]) -> None:
        """Fold the batch and apply it to the view with the last event's tracking."""
        view: Any = self.view
        view.apply(fold(event for event, _ in batch), batch[-1][1])
