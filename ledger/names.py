"""Names every layer shares: the log's application name and the tables derived from names.

One home for them, so a rename happens in one place.
Tests: tests/integration/test_projection_kinds.py.
"""

from __future__ import annotations

LOG_NAME = "SessionLedger"
"""The application whose notification log every projection follows (its tracking key)."""


def tracking_table(projection: str, *, prefix: str = "") -> str:
    """The table holding a projection's tracking positions (the library's naming)."""
    return f"{prefix}{projection}_tracking"
