"""Tokens that passed full verification, kept a short while so a repeated token costs a lookup.

A console or an IdP sends the same bearer token with every request until it expires;
verifying it again each time (PyJWT: header, key preparation, signature, claims) was the
largest share of the API's own work per request in bench H1. Only a token the verifier
accepted is kept, under its exact text (signature included, so no other token can match),
together with its `exp`. A hit is refused once `exp` has passed, with the same leeway and
the same comparison as PyJWT (`exp <= now - leeway`); the entry is then dropped and the
token verified again, which gives the usual refusal. `nbf` and `iat` need no second check:
a token they allowed once stays allowed. Entries live `ttl_s` at most, the oldest goes when
`size` entries are kept, and `clear()` forgets them all (called when a key of the JWKS URL
is withdrawn). Only the signature and claims are kept: whether the token's session is still
active is checked on every request (`ledger.api.sessions`). Used from the event loop only.
Tests: tests/api/test_verified_tokens.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class VerifiedTokens(Generic[T]):
    """What was read from each recently verified token, until its `exp` or `ttl_s`."""

    def __init__(
        self,
        *,
        leeway_s: float,
        size: int = 1024,
        ttl_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leeway_s, self.size, self.ttl_s, self.clock = leeway_s, size, ttl_s, clock
        self._entries: dict[str, tuple[T, int, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> T | None:
        """The value kept for `token`, or None (unknown, expired, or kept too long)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        value, exp, until = entry
        now = self.clock()
        if exp <= now - self.leeway_s or now >= until:
            del self._entries[token]
            return None
        return value

    def clear(self) -> None:
        """Forget every token (a key they were verified with was withdrawn)."""
        self._entries.clear()

    def put(self, token: str, value: T, *, exp: Any) -> None:
        """Keep `value` for `token`, verified just now, whose `exp` claim is `exp`."""
        try:
            expires = int(exp)  # as PyJWT reads it
        except (TypeError, ValueError, OverflowError):
            return
        if len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (value, expires, self.clock() + self.ttl_s)
