"""The domain: `Session` and `Account` aggregates, their events and pure rules. No I/O.

The library stamps each event with its own recording `timestamp`; every time the domain
reasons about (`at`, `now`) is passed in by the caller.
"""

from ledger.aggregates.account import Account
from ledger.aggregates.errors import (
    ConcurrencyConflict,
    FutureTimestamp,
    InvalidInput,
    LedgerError,
    SessionConflict,
    SessionEnded,
    SessionNotFound,
)
from ledger.aggregates.ids import LEDGER_NAMESPACE, account_uuid, session_uuid
from ledger.aggregates.rules import TerminationReason, expires_at
from ledger.aggregates.session import Session

__all__ = [
    "LEDGER_NAMESPACE",
    "Account",
    "ConcurrencyConflict",
    "FutureTimestamp",
    "InvalidInput",
    "LedgerError",
    "Session",
    "SessionConflict",
    "SessionEnded",
    "SessionNotFound",
    "TerminationReason",
    "account_uuid",
    "expires_at",
    "session_uuid",
]
