"""Access tokens for an identity provider's API, by the OAuth 2.0 client credentials grant.

RFC 6749 §4.4: the client authenticates at the token endpoint (HTTP Basic with the
form-encoded client id and secret, RFC 6749 §2.3.1) and posts `grant_type=client_credentials`
(and `scope` when the IdP wants one, §3.3); the answer (§5.1) carries `access_token`,
`token_type` (must be `Bearer`, RFC 6750) and usually `expires_in`. A token is kept until
shortly before it expires (`REFRESH_MARGIN_S`, or a tenth of its lifetime when that is
shorter); a token the IdP refused (401) is dropped with `invalidate` so the next call asks for
a fresh one. The endpoint is reached through the guarded outbound client.
Tests: tests/enforcement/test_tokens.py.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from urllib.parse import quote_plus

import httpx
import orjson

REFRESH_MARGIN_S = 30.0
UNKNOWN_LIFETIME_S = 60.0  # `expires_in` is only RECOMMENDED (RFC 6749 §5.1)


class TokenError(Exception):
    """No token could be had (the endpoint is down, or refused the client)."""


def basic_credentials(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: id and secret form-encoded, then HTTP Basic (RFC 7617)."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


class ClientCredentials:
    """One client's token at one token endpoint, cached until shortly before it expires."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.token_url, self.scope, self.clock = client, token_url, scope, clock
        self._authorization = basic_credentials(client_id, client_secret)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self.fetched = 0  # how many tokens were asked for (operators' and tests' view)

    def token(self) -> str:
        """A token that is not about to expire (asked for when needed); TokenError if none."""
        with self._lock:
            if self._token is None or self.clock() >= self._renew_at:
                self._token, lifetime = self._fetch()
                self._renew_at = self.clock() + lifetime - min(REFRESH_MARGIN_S, lifetime / 10)
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget `token` (the IdP refused it); a newer one already fetched is kept."""
        with self._lock:
            if self._token == token:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}  # RFC 6749 §4.4.2
        if self.scope:
            form["scope"] = self.scope
        headers = {"Authorization": self._authorization, "Accept": "application/json"}
        self.fetched += 1
        try:
            response = self.client.post(self.token_url, data=form, headers=headers)
        except httpx.HTTPError as e:
            raise TokenError(f"token endpoint: {type(e).__name__}: {e}") from None
        if response.status_code != 200:  # RFC 6749 §5.2: 400/401 with {"error"}
            raise TokenError(f"token endpoint answered {response.status_code}{_error(response)}")
        return _parse(response.content)


def _error(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return f" {error}" if isinstance(error, str) else ""


def _parse(content: bytes) -> tuple[str, float]:
    """RFC 6749 §5.1: `access_token`, `token_type` Bearer, `expires_in` (seconds)."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise TokenError("token endpoint: the answer is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise TokenError("token endpoint: no access_token in the answer")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise TokenError(f"token endpoint: token_type {body.get('token_type')!r}, not Bearer")
    lifetime = body.get("expires_in", UNKNOWN_LIFETIME_S)
    if isinstance(lifetime, str) and lifetime.isdigit():  # some servers send a string
        lifetime = int(lifetime)
    if not isinstance(lifetime, int | float) or isinstance(lifetime, bool) or lifetime <= 0:
        lifetime = UNKNOWN_LIFETIME_S
    return body["access_token"], float(lifetime)
