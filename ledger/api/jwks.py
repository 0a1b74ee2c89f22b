"""The identity provider's keys from `LEDGER_JWKS_URL`: a set that expires, one fetch at a time.

Guarantees: the key set is replaced as a whole on every successful fetch, so a key the IdP
withdrew stops being accepted at the next fetch, and every set expires after
`LEDGER_JWKS_LIFETIME_S` (a key is never trusted longer than that after it was last
served). Lookups do no I/O: `lookup` answers from the set or says a fetch is due
(`KeyNotCached`). Fetches are coalesced (one at a time per process: `refresh` under a lock,
`refresh_async` shares one in-flight fetch between all waiting requests, on the event
loop's own executor, never the request thread pool). An unknown `kid` causes a fetch at
most once per `MIN_REFETCH_S` (README promised it); a failed fetch opens a circuit breaker:
no fetch, and an immediate `KeysUnavailable`, until a back-off that doubles per failure
(2 s to 60 s) has passed. `version` grows whenever a key disappears or changes, so callers
can drop what they verified with it.
Tests: tests/security/test_jwks_keys.py, tests/api/test_jwks_url.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from jwt import PyJWK

log = logging.getLogger("ledger.api")

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MIN_REFETCH_S = 30.0
BACKOFF_S, MAX_BACKOFF_S = 2.0, 60.0
MAX_JWKS_BYTES = 512 * 1024
NEVER = float("-inf")


class TokenRefused(Exception):
    """The token is not acceptable; the message says why (short and fixed: safe to show)."""


class KeysUnavailable(Exception):
    """The identity provider's JWKS could not be fetched (the message is for the log)."""


class KeyNotCached(Exception):
    """The token's key must be fetched from the JWKS URL first (blocking I/O)."""


def signing_keys(data: Any) -> dict[str, PyJWK] | None:
    """The asymmetric signing keys of a JWKS document by `kid` (None when it is no JWKS).

    Keys without `kid` get `#<index>`; `use` other than `sig`, symmetric (`oct`) keys and
    keys PyJWT cannot read are skipped (RFC 7517 §4.2, §6).
    """
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list):
        return None
    found: dict[str, PyJWK] = {}
    for index, entry in enumerate(keys):
        key = _signing_key(entry)
        if key is not None:
            found[str(entry.get("kid", f"#{index}"))] = key
    return found


def _signing_key(entry: Any) -> PyJWK | None:
    if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig":
        return None
    if entry.get("kty") == "oct":  # symmetric keys in a JWKS invite confusion: ignored
        return None
    try:
        key = PyJWK(dict(entry))
    except jwt.PyJWTError as e:
        log.warning("JWKS key %s skipped: %s", entry.get("kid"), e)
        return None
    return key if key.algorithm_name in ASYMMETRIC else None


def fetch_jwks(url: str, *, timeout_s: float) -> dict[str, PyJWK]:
    """GET the JWKS at `url` (no redirects, bounded size); KeysUnavailable on any failure."""
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json"})
        if response.status_code != 200:
            raise KeysUnavailable(f"HTTP {response.status_code}")
        if len(response.content) > MAX_JWKS_BYTES:
            raise KeysUnavailable(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        keys = signing_keys(response.json())
    except (httpx.HTTPError, ValueError) as e:
        raise KeysUnavailable(f"{type(e).__name__}: {e}") from None
    if not keys:
        raise KeysUnavailable("the document holds no usable signing key")
    return keys


class JwksCache:
    """The current key set of one JWKS URL, its expiry, and the fetch circuit breaker."""

    def __init__(
        self,
        url: str,
        *,
        lifetime_s: float,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], dict[str, PyJWK]] | None = None,
    ) -> None:
        self.url, self.lifetime_s, self.clock = url, lifetime_s, clock
        self._fetch = fetch or (lambda u: fetch_jwks(u, timeout_s=timeout_s))
        self._keys: dict[str, PyJWK] = {}
        self._expires = self._fetched = self._retry_at = NEVER
        self._failures = 0
        self._lock = threading.Lock()
        self._inflight: asyncio.Future[None] | None = None
        self.version = 0
        self.fetches = 0  # attempts, for tests and the log

    def lookup(self, kid: str) -> PyJWK:
        """The key of `kid` from the current set; KeyNotCached when a fetch is due first."""
        now = self.clock()
        if now < self._expires:
            key = self._keys.get(kid)
            if key is not None:
                return key
            if now < self._fetched + MIN_REFETCH_S:
                raise TokenRefused("unknown signing key")
        if now < self._retry_at:
            raise KeysUnavailable("circuit open after a failed fetch")
        raise KeyNotCached(kid)

    def retry_after(self) -> int:
        """Seconds until the circuit breaker allows the next fetch (at least 1)."""
        wait = self._retry_at - self.clock()
        return int(wait) + 1 if wait > 0 else 1

    def refresh(self) -> None:
        """Fetch the set now unless another caller just did (blocking; coalesced by a lock)."""
        with self._lock:
            now = self.clock()
            if now < self._expires and now < self._fetched + MIN_REFETCH_S:
                return  # fetched a moment ago by the caller we waited for
            if now < self._retry_at:
                raise KeysUnavailable("circuit open after a failed fetch")
            self.fetches += 1
            try:
                keys = self._fetch(self.url)
            except KeysUnavailable as e:
                self._failures += 1
                backoff = min(MAX_BACKOFF_S, BACKOFF_S * 2 ** (self._failures - 1))
                self._retry_at = self.clock() + backoff
                log.warning(
                    "JWKS fetch from %s failed (%s); next try in %.0f s", self.url, e, backoff
                )
                raise
            self._install(keys, now=self.clock())

    def _install(self, keys: dict[str, PyJWK], *, now: float) -> None:
        if any(kid not in keys for kid in self._keys):  # withdrawn keys
            self.version += 1
        self._keys = keys
        self._fetched, self._expires = now, now + self.lifetime_s
        self._failures, self._retry_at = 0, NEVER

    async def refresh_async(self) -> None:
        """`refresh` off the event loop; concurrent callers share the one fetch in flight."""
        loop = asyncio.get_running_loop()
        inflight = self._inflight
        if inflight is None or inflight.done() or inflight.get_loop() is not loop:
            inflight = loop.run_in_executor(None, self.refresh)
            self._inflight = inflight
        await asyncio.shield(inflight)
