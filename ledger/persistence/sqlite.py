"""SQLite recorders: the library's application recorder plus a polling subscription.

The library gives SQLite no subscription; ours re-reads the notification log when a save in
this process signals it (at once) and every `poll_interval` otherwise (saves made by other
processes). It is a `ListenNotifySubscription`, so the library's `ProjectionRunner` drives
SQLite views exactly as it drives PostgreSQL ones. The library's `ApplicationRecorderTestCase`
runs against it: tests/integration/test_recorders.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    ListenNotifySubscription,
    StoredEvent,
    Subscription,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

DEFAULT_POLL_INTERVAL_S = 0.25


class SaveNotifier:
    """Wakes the subscriptions of one SQLite file when this process saves to it."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0

    @property
    def generation(self) -> int:
        """A counter that moves on every save (compare to see whether anything happened)."""
        return self._generation

    def notify(self) -> None:
        """Signal that events were committed."""
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        """Block until a save after generation `seen`, or `timeout`; return the generation."""
        with self._condition:
            if self._generation == seen:
                self._condition.wait(timeout)
            return self._generation


_notifiers: dict[str, SaveNotifier] = {}
_notifiers_lock = threading.Lock()


def notifier_for(db_name: str) -> SaveNotifier:
    """The process-wide notifier of the SQLite file `db_name`."""
    key = os.path.realpath(db_name) if not db_name.startswith("file:") else db_name
    with _notifiers_lock:
        return _notifiers.setdefault(key, SaveNotifier())


class LedgerSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """The library's SQLite application recorder, able to subscribe."""

    poll_interval = DEFAULT_POLL_INTERVAL_S

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.notifier = notifier_for(datastore.pool.db_name)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert in one transaction, then wake this process's subscriptions."""
        ids = super().insert_events(stored_events, **kwargs)
        self.notifier.notify()
        return ids

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        """Follow the notification log from after `gt`, blocking when caught up."""
        return SQLiteSubscription(recorder=self, gt=gt, topics=topics)


class SQLiteSubscription(ListenNotifySubscription[LedgerSQLiteApplicationRecorder]):
    """Pulls new notifications when woken by a local save, and by polling."""

    def __init__(
        self,
        recorder: LedgerSQLiteApplicationRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._listen_thread = threading.Thread(target=self._listen, daemon=True)
        self._listen_thread.start()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._listen_thread.join()

    def _listen(self) -> None:
        notifier = self._recorder.notifier
        seen = notifier.generation
        try:
            while not self._has_been_stopped and not self._thread_error:
                seen = notifier.wait(seen, self._recorder.poll_interval)
                self._has_been_notified.set()
        except BaseException as e:  # pragma: no cover - mirrors the library's listener
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
