"""The expiry reaper: records `Session.Terminated(idle_timeout | max_lifetime)` for sessions
past `expires_at`, at the moment they expired, so the log tells the full story.

Candidates come from the `active_sessions` view; the ledger re-checks each against its
aggregate, so a stale view never expires a live session. Tests: tests/integration/test_reaper.py.
"""

from __future__ import annotations

import logging
import threading

from ledger.application import Clock, SessionLedger
from ledger.outcomes import ExpireOutcome
from ledger.projections.active_sessions import ActiveSessionsView

log = logging.getLogger("ledger.reaper")


def reap(
    ledger: SessionLedger, active: ActiveSessionsView, clock: Clock, *, batch: int = 500
) -> ExpireOutcome:
    """Record every due expiry now (in batches); return what was recorded."""
    expired: list[tuple[str, str, str]] = []
    position: int | None = None
    seen: set[tuple[str, str]] = set()
    while True:
        now = clock()
        due = [c for c in active.due(now=now, limit=batch) if c not in seen]
        if not due:
            break
        seen.update(due)
        outcome = ledger.expire_sessions(due, now=now)
        expired += outcome.expired
        position = outcome.position or position
        if len(due) < batch:
            break
    return ExpireOutcome(position=position, expired=expired)


class Reaper:
    """Runs `reap` every `interval` seconds in a background thread."""

    def __init__(
        self, ledger: SessionLedger, active: ActiveSessionsView, clock: Clock, interval: float
    ) -> None:
        self.ledger, self.active, self.clock, self.interval = ledger, active, clock, interval
        self.runs = 0
        self.expired = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop it."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                outcome = reap(self.ledger, self.active, self.clock)
            except Exception as e:  # keep reaping; the next run retries
                log.warning("reaper run failed: %s", e)
                continue
            self.runs += 1
            self.expired += len(outcome.expired)
