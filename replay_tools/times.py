"""Times as auditors type and read them: RFC 3339 in, RFC 3339 UTC (`Z`) out.

Tests: tests/replay/test_cli.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp with `Z` or an offset, as a UTC datetime; ValueError otherwise."""
    value = text.strip()
    if not _RFC3339.match(value):
        msg = f"{text!r} is not an RFC 3339 time; write e.g. 2026-03-01T12:00:00Z"
        raise ValueError(msg)
    try:
        parsed = datetime.fromisoformat(value.upper().replace(" ", "T").replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"{text!r} is not a valid time: {e}") from None
    return parsed.astimezone(UTC)


def format_time(moment: datetime | None) -> str:
    """`moment` as RFC 3339 UTC with `Z` (empty for None)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
