"""Keyset pagination shared by the views: opaque cursors over (started_at, session key).

Ordering by an immutable key means a session present on every page request is never
skipped or repeated, however many sessions start and end between pages.
Tests: tests/integration/test_views_contract.py (pagination under concurrent changes).
"""

from __future__ import annotations

import base64
import binascii
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


def decode_cursor(cursor: str) -> tuple[int, UUID]:
    """The position of a cursor made by `encode_cursor`, or InvalidCursor."""
    try:
        if len(cursor) > 200:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, started_us, key = orjson.loads(raw)
        if version != 1 or type(started_us) is not int:
            raise ValueError
        return started_us, UUID(hex=key)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}: use a next_cursor as given") from None


def check_limit(limit: int) -> int:
    """A page size from 1 to MAX_LIMIT."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"invalid limit {limit!r}: from 1 to {MAX_LIMIT}")
    return limit
