"""Keyset pagination shared by the views: opaque cursors over (started_at, session key).

Ordering by an immutable key means a session present on every page request is never
skipped or repeated, however many sessions start and end between pages.
Tests: tests/integration/test_views_contract.py (pagination under concurrent changes),
tests/security/test_cursors.py (crafted cursors).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from uuid import UUID

import orjson

from ledger.aggregates.errors import InvalidInput
from ledger.records import SessionRecord

MAX_LIMIT = 500


class InvalidCursor(InvalidInput):
    """A cursor that this ledger did not hand out."""


@dataclass(frozen=True)
class Page:
    """One page of sessions, and the cursor of the next (None on the last page)."""

    sessions: list[SessionRecord] = field(default_factory=list)
    next_cursor: str | None = None


def encode_cursor(started_us: int, key: UUID) -> str:
    """An opaque cursor for the position after (started_us, key)."""
    raw = orjson.dumps([1, started_us, key.hex])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The range of the column a view compares the timestamp with (SQLite INTEGER, PostgreSQL
# bigint): a value outside it was never handed out and made the driver fail (a 500).
MIN_STARTED_US, MAX_STARTED_US = -(2**63), 2**63 - 1
CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,200}")
KEY_HEX = re.compile(r"[0-9a-f]{32}")


def decode_cursor(cursor: str) -> tuple[int, UUID]:
    """The position of a cursor made by `encode_cursor`, or InvalidCursor (never anything else).

    Validated fully: base64url text, a JSON array of exactly [1, int in range, 32 hex digits].
    """
    try:
        if not isinstance(cursor, str) or not CURSOR_CHARS.fullmatch(cursor):
            raise ValueError
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise _invalid(cursor) from None
    if not (isinstance(value, list) and len(value) == 3):
        raise _invalid(cursor)
    version, started_us, key = value
    if type(version) is not int or version != 1 or type(started_us) is not int:
        raise _invalid(cursor)
    if not MIN_STARTED_US <= started_us <= MAX_STARTED_US:
        raise _invalid(cursor)
    if not (isinstance(key, str) and KEY_HEX.fullmatch(key)):
        raise _invalid(cursor)
    return started_us, UUID(hex=key)


def _invalid(cursor: object) -> InvalidCursor:
    shown = cursor[:40] if isinstance(cursor, str) else "?"
    return InvalidCursor(f"invalid cursor {shown!r}: use a next_cursor as given")


def check_limit(limit: int) -> int:
    """A page size from 1 to MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"invalid limit {limit!r}: from 1 to {MAX_LIMIT}")
    return limit
