"""Domain errors: each says what was refused and why, and maps to one HTTP status.

Tests: tests/unit/test_session.py and tests/unit/test_account.py.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of the errors the ledger reports to its callers."""

    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(LedgerError):
    """A value that can never be accepted (bad id, bad time, unknown reason)."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class FutureTimestamp(InvalidInput):
    """A client-supplied time lies further in the future than the allowed clock skew."""

    title = "Time in the future"
    type_slug = "future-time"


class SessionNotFound(LedgerError):
    """No such session (or not one the caller may see: the answer is the same)."""

    status = 404
    title = "Session not found"
    type_slug = "session-not-found"


class SessionEnded(LedgerError):
    """The session was terminated or has expired; it cannot change any more."""

    status = 409
    title = "Session has ended"
    type_slug = "session-ended"


class SessionConflict(LedgerError):
    """A start for an existing session id carries other data than the recorded start."""

    status = 409
    title = "Session exists with other data"
    type_slug = "session-conflict"


class ConcurrencyConflict(LedgerError):
    """Concurrent commands kept changing the same aggregates; retries ran out."""

    status = 409
    title = "Concurrent update"
    type_slug = "concurrent-update"
