"""How decided commands reach the event store: one save each, or gathered (group commit).

`GroupCommitter` puts the events of concurrent commands into one transaction. Each caller
still gets its own position or its own error: when the batch hits a version conflict it is
committed again command by command, so one caller's conflict never fails another's. Two
commands of one batch that write the same aggregate version cannot both succeed: the later
one is refused before the batch is written and retried by its caller.
Tests: tests/integration/test_group_commit.py, tests/properties/test_group_commit.py.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

DEFAULT_GROUP_COMMIT = True
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_WAIT_MS = 0.0
DEFAULT_CACHE_SIZE = 20_000
"""Aggregates the command side keeps in the repository's cache (`record` fills it)."""


class VersionConflict(IntegrityError):
    """Another command of the same batch writes the same aggregate version."""


class Committer(Protocol):
    """Saves the pending events of a command's aggregates in one transaction."""

    def commit(self, aggregates: Sequence[Any]) -> int | None:
        """Save; return the highest notification id written (None if nothing was)."""

    def close(self) -> None:
        """Stop accepting commits."""


def record(app: Application[UUID], processing_event: ProcessingEvent[UUID]) -> list[Recording[Any]]:
    """Write the events in one transaction; then snapshots (a cache: never fail the command).

    The saved aggregates go into the repository's cache (the library fills it only on a
    load when it fast-forwards): the next command on one of them then asks the store only
    for later events, one query instead of a snapshot lookup and a full read.
    """
    recordings = app._record(processing_event)
    cache = app.repository.cache
    if cache is not None:
        for aggregate_id, aggregate in processing_event.aggregates.items():
            cache.put(aggregate_id, aggregate)
    with contextlib.suppress(Exception):
        app._take_snapshots(processing_event)
    app._notify(recordings)
    return recordings


def _position(recordings: Sequence[Recording[Any]]) -> int | None:
    ids = [r.notification.id for r in recordings if r.notification.id is not None]
    return max(ids) if ids else None


class DirectCommitter:
    """One `Application.save` per command (the library's plain way)."""

    def __init__(self, app: Application[UUID]) -> None:
        self.app = app

    def commit(self, aggregates: Sequence[Any]) -> int | None:
        """Save these aggregates in one transaction."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:  # not collect_events(): its Protocol checks are slow
            processing_event.events.extend(aggregate.collect_events())
            processing_event.aggregates[aggregate.id] = aggregate
        if not processing_event.events:
            return None
        return _position(record(self.app, processing_event))

    def close(self) -> None:
        """Nothing to stop."""


@dataclass
class _Request:
    events: list[Any]
    aggregates: dict[UUID, Any]
    done: threading.Event = field(default_factory=threading.Event)
    position: int | None = None
    error: BaseException | None = None


class GroupCommitter:
    """Gathers concurrent commands into one transaction, committed by one thread.

    Batches form naturally: while a batch is being written, new requests queue up and form
    the next one (bounded by `max_batch`); `max_wait_s` may add a short wait to gather more.
    `before_batch`, when set, is called by the committer thread once it has a request and
    before it gathers the rest (a test's hook: hold it there until the requests it wants in
    one batch are `queued`).
    """

    def __init__(
        self,
        app: Application[UUID],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_wait_s: float = DEFAULT_MAX_WAIT_MS / 1000,
    ) -> None:
        self.app = app
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._closed = False
        self.batches = 0
        self.commands = 0
        self.before_batch: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    def commit(self, aggregates: Sequence[Any]) -> int | None:
        """Hand the aggregates' events to the committer thread and wait for the outcome."""
        if self._closed:
            msg = "the group committer is closed"
            raise RuntimeError(msg)
        events: list[Any] = []
        owners: dict[UUID, Any] = {}
        for aggregate in aggregates:
            events.extend(aggregate.collect_events())
            owners[aggregate.id] = aggregate
        if not events:
            return None
        request = _Request(events=events, aggregates=owners)
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.position

    @property
    def queued(self) -> int:
        """How many requests wait for the committer thread (approximate while it runs)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        batch = [first]
        stop = False
        deadline_wait = self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                item = (
                    self._queue.get(timeout=deadline_wait)
                    if deadline_wait > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is None:
                stop = True
                break
            batch.append(item)
        return batch, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            if self.before_batch is not None:
                self.before_batch()
            batch, stop = self._gather(first)
            self._commit_batch(batch)
            if stop:
                return

    def _commit_batch(self, batch: list[_Request]) -> None:
        accepted: list[_Request] = []
        seen: set[tuple[UUID, int]] = set()
        for request in batch:
            keys = {(e.originator_id, e.originator_version) for e in request.events}
            if keys & seen:
                request.error = VersionConflict("another command in the batch wrote first")
                request.done.set()
                continue
            seen |= keys
            accepted.append(request)
        if not accepted:
            return
        self.batches += 1
        self.commands += len(accepted)
        try:
            recordings = self._record(accepted)
        except IntegrityError:
            for request in accepted:
                self._commit_one(request)
            return
        except BaseException as e:
            for request in accepted:
                request.error = e
                request.done.set()
            return
        by_request: dict[int, list[Recording[Any]]] = {}
        index = 0
        for n, request in enumerate(accepted):
            by_request[n] = recordings[index : index + len(request.events)]
            index += len(request.events)
        for n, request in enumerate(accepted):
            request.position = _position(by_request[n])
            request.done.set()

    def _commit_one(self, request: _Request) -> None:
        try:
            request.position = _position(self._record([request]))
        except BaseException as e:
            request.error = e
        request.done.set()

    def _record(self, requests: list[_Request]) -> list[Recording[Any]]:
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for request in requests:
            processing_event.events.extend(request.events)
            processing_event.aggregates.update(request.aggregates)
        return record(self.app, processing_event)
