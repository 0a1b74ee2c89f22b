"""Signature keys and token verification (PyJWT), shared by bearer auth and back-channel logout.

The algorithm a token may use is fixed by the key, never by the token: the HMAC secret
(`LEDGER_JWT_SECRET` or the development secret) takes HS256 only; a JWK takes the one
asymmetric algorithm of its type (RS256 for RSA unless the JWK names another, ES256 for
P-256...). So `alg: none` and algorithm confusion (an HS256 token "signed" with a public
key) are refused. JWKS keys are selected by `kid`. Keys from `LEDGER_JWKS_URL` are kept by
`kid` once fetched, so `decode(..., fetch=False)` verifies without I/O (the event loop may
call it) and raises `KeyNotCached` only when a key must first be fetched.
Tests: tests/api/test_security.py, tests/api/test_jwks_url.py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from ledger.config import Settings
from ledger.errors import ConfigError

log = logging.getLogger("ledger.api")

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class TokenRefused(Exception):
    """The token is not acceptable; the message says why (safe to show the caller)."""


class KeysUnavailable(Exception):
    """The identity provider's JWKS could not be fetched."""


class KeyNotCached(Exception):
    """The token's key must be fetched from the JWKS URL first (blocking I/O)."""


MAX_URL_KEYS = 16  # keys from the JWKS URL kept by kid (the size PyJWKClient's own cache had)


def load_jwks_file(path: Any) -> dict[str, PyJWK]:
    """The signing keys of a JWKS file by `kid` (keys without `kid` get their index)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError("LEDGER_JWKS_FILE", f"cannot read a JWKS from {path}: {e}") from None
    keys = data.get("keys") if isinstance(data, Mapping) else None
    if not isinstance(keys, list):
        raise ConfigError("LEDGER_JWKS_FILE", f"{path} holds no JWKS ({{'keys': [...]}})")
    found: dict[str, PyJWK] = {}
    for index, entry in enumerate(keys):
        key = _signing_key(entry)
        if key is not None:
            found[str(entry.get("kid", f"#{index}"))] = key
    if not found:
        raise ConfigError("LEDGER_JWKS_FILE", f"{path} holds no usable RSA/EC/OKP signing key")
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


class TokenVerifier:
    """Checks signatures, `exp`, and `iss`/`aud` when configured; returns the claims."""

    def __init__(
        self,
        settings: Settings,
        *,
        hmac_secret: bytes | None,
        jwks: dict[str, PyJWK] | None = None,
        jwks_client: PyJWKClient | None = None,
    ) -> None:
        self.settings = settings
        self.hmac_secret = hmac_secret
        self.jwks = jwks or {}
        self.jwks_client = jwks_client
        self._url_keys: dict[str, PyJWK] = {}  # read without a lock; written under it
        self._url_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, hmac_secret: bytes | None) -> TokenVerifier:
        """The verifier of the configured keys (`hmac_secret` is the HS256 secret, if any)."""
        jwks = load_jwks_file(settings.jwks_file) if settings.jwks_file else None
        client = None
        if settings.jwks_url:
            client = PyJWKClient(settings.jwks_url, lifespan=300, timeout=5)
        return cls(settings, hmac_secret=hmac_secret, jwks=jwks, jwks_client=client)

    @property
    def has_asymmetric_keys(self) -> bool:
        """True when a JWKS (file or URL) is configured."""
        return bool(self.jwks) or self.jwks_client is not None

    def key_for(
        self, token: str, *, allow_hmac: bool = True, fetch: bool = True
    ) -> tuple[Any, str]:
        """The key and the one algorithm this token must be verified with.

        With `fetch=False`, a key not yet fetched from the JWKS URL raises `KeyNotCached`.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg == "HS256" and allow_hmac and self.hmac_secret is not None:
            return self.hmac_secret, "HS256"
        if alg not in ASYMMETRIC or not self.has_asymmetric_keys:
            raise TokenRefused(f"algorithm {alg!r} is not accepted")
        jwk = self._jwk(kid, fetch=fetch)
        if jwk.algorithm_name != alg:
            raise TokenRefused(f"algorithm {alg!r} does not match the key {kid!r}")
        return jwk.key, alg

    def _jwk(self, kid: Any, *, fetch: bool) -> PyJWK:
        if kid is not None and not isinstance(kid, str):
            raise TokenRefused("malformed kid")
        if self.jwks_client is not None:
            if kid is None:
                raise TokenRefused("the token names no key (kid)")
            return self._url_key(self.jwks_client, kid, fetch=fetch)
        if kid is None and len(self.jwks) == 1:
            return next(iter(self.jwks.values()))
        if kid is None or kid not in self.jwks:
            raise TokenRefused(f"unknown key {str(kid)[:64]!r}")
        return self.jwks[kid]

    def _url_key(self, client: PyJWKClient, kid: str, *, fetch: bool) -> PyJWK:
        """The key of `kid` from the JWKS URL: kept once known, else fetched (if allowed)."""
        known = self._url_keys.get(kid)
        if known is not None:
            return known
        if not fetch:
            raise KeyNotCached(kid)
        try:
            key = client.get_signing_key(kid)  # the client caches the JWKS for 300 s
        except jwt.PyJWKClientConnectionError as e:
            raise KeysUnavailable(str(e)) from None
        except jwt.PyJWTError:
            raise TokenRefused(f"unknown key {kid[:64]!r}") from None
        with self._url_lock:
            if len(self._url_keys) >= MAX_URL_KEYS:
                del self._url_keys[next(iter(self._url_keys))]
            self._url_keys[kid] = key
        return key

    def decode(
        self,
        token: str,
        *,
        audience: str | None,
        issuer: str | None,
        require: list[str],
        allow_hmac: bool = True,
        fetch: bool = True,
    ) -> dict[str, Any]:
        """The verified claims, or TokenRefused saying why (`fetch`: see `key_for`)."""
        key, alg = self.key_for(token, allow_hmac=allow_hmac, fetch=fetch)
        options: dict[str, Any] = {"require": require, "verify_aud": audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                leeway=self.settings.jwt_leeway_s,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefused("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRefused("token not meant for this audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRefused("token from another issuer") from None
        except jwt.MissingRequiredClaimError as e:
            raise TokenRefused(f"token lacks the {e.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise TokenRefused("bad signature") from None
        except jwt.PyJWTError as e:
            raise TokenRefused(f"invalid token ({type(e).__name__})") from None
        return claims
