"""The expiry reaper: records `Session.Terminated(idle_timeout | max_lifetime)` for sessions
past `expires_at`, at the moment they expired, so the log tells the full story.

Candidates come from the `active_sessions` view; the ledger re-checks each against its
aggregate, so a stale view never expires a live session. Tests: tests/integration/test_reaper.py.
"""

from __future__ import annotations

from ledger.application import Clock, SessionLedger
from ledger.outcomes import ExpireOutcome
from ledger.projections.active_sessions import ActiveSessionsView
from ledger.workers import Periodic


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


class Reaper(Periodic):
    """Runs `reap` every `interval` seconds in a background thread (a `Periodic` worker)."""

    def __init__(
        self, ledger: SessionLedger, active: ActiveSessionsView, clock: Clock, interval: float
    ) -> None:
        super().__init__("reaper", interval, self.run_once)
        self.ledger, self.active, self.clock = ledger, active, clock
        self.expired = 0

    def run_once(self) -> None:
        """Record every due expiry now."""
        self.expired += len(reap(self.ledger, self.active, self.clock).expired)
