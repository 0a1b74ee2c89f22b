"""The OAuth scopes the ledger's API knows: defined here once, used by the routes and pages.

Tests: tests/api/test_vocabulary.py.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """A scope a bearer token may carry (space-separated in its `scope` claim)."""

    ME = "sessions:me"
    READ = "sessions:read"
    TERMINATE = "sessions:terminate"
    AUDIT = "sessions:audit"
    INGEST = "sessions:ingest"
    SSF_MANAGE = "ssf.manage"  # SSF 1.0 interop profile: manage streams
    SSF_READ = "ssf.read"  # SSF 1.0 interop profile: read streams
    WEBHOOKS_MANAGE = "webhooks:manage"


class PageScope(StrEnum):
    """The scopes the web pages use (what their sign-in asks for)."""

    ME = Scope.ME.value
    READ = Scope.READ.value
    TERMINATE = Scope.TERMINATE.value
    AUDIT = Scope.AUDIT.value
