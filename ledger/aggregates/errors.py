"""Domain errors: each says what was refused and why (the API maps them to HTTP problems).

Tests: tests/unit/test_session.py and tests/unit/test_account.py.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of the errors the ledger reports to its callers."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(LedgerError, ValueError):
    """A value that can never be accepted (bad id, bad time, unknown reason)."""


class FutureTimestamp(InvalidInput):
    """A client-supplied time lies further in the future than the allowed clock skew."""


class SessionNotFound(LedgerError):
    """No such session (or not one the caller may see: the answer is the same)."""


class SessionEnded(LedgerError):
    """The session was terminated or has expired; it cannot change any more."""


class SessionConflict(LedgerError):
    """A start for an existing session id carries other data than the recorded start."""


class ConcurrencyConflict(LedgerError):
    """Concurrent commands kept changing the same aggregates; retries ran out."""
