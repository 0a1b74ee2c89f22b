"""Signature keys and token verification (PyJWT), shared by bearer auth and back-channel logout.

The algorithm a token may use is fixed by the key, never by the token (RFC 8725 §3.1): the
HMAC secret (`LEDGER_JWT_SECRET` or the development secret) takes HS256 only; a JWK takes
the one asymmetric algorithm of its type (RS256 for RSA unless the JWK names another, ES256
for P-256...). So `alg: none` and algorithm confusion (an HS256 token "signed" with a public
key) are refused. JWKS keys are selected by `kid`. Keys from `LEDGER_JWKS_URL` live in a
`JwksCache` (`ledger.keys.jwks`): `decode(..., fetch=False)` verifies without I/O (the event
loop may call it) and raises `KeyNotCached` only when the set must first be fetched.
Refusals carry short fixed reasons (safe to show); the underlying error goes to the log.
`exp` is checked against `clock` (the wall clock; a test's clock can stand in), with PyJWT's
comparison and leeway; PyJWT checks the rest of the claims.
Tests: tests/api/test_security.py, tests/api/test_jwks_url.py, tests/security/.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.keys.jwks import (
    ASYMMETRIC,
    JwksCache,
    KeyNotCached,
    KeysUnavailable,
    TokenRefused,
    signing_keys,
)

__all__ = ["KeyNotCached", "KeysUnavailable", "TokenRefused", "TokenVerifier", "load_jwks_file"]
log = logging.getLogger("ledger.api")
# A plausible `kid` (RFC 7517 §4.5 leaves its form open; real IdPs use short printable ids):
# anything else is refused before any lookup, so it can never cause a fetch.
PLAUSIBLE_KID = re.compile(r"[\x21-\x7e]{1,128}")


def load_jwks_file(path: Any) -> dict[str, PyJWK]:
    """The signing keys of a JWKS file by `kid` (keys without `kid` get their index)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError("LEDGER_JWKS_FILE", f"cannot read a JWKS from {path}: {e}") from None
    found = signing_keys(data)
    if found is None:
        raise ConfigError("LEDGER_JWKS_FILE", f"{path} holds no JWKS ({{'keys': [...]}})")
    if not found:
        raise ConfigError("LEDGER_JWKS_FILE", f"{path} holds no usable RSA/EC/OKP signing key")
    return found


class TokenVerifier:
    """Checks signatures, `exp`, and `iss`/`aud` when configured; returns the claims."""

    def __init__(
        self,
        settings: Settings,
        *,
        hmac_secret: bytes | None,
        jwks: dict[str, PyJWK] | None = None,
        url_keys: JwksCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.hmac_secret = hmac_secret
        self.jwks = jwks or {}
        self.url_keys = url_keys
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, *, hmac_secret: bytes | None) -> TokenVerifier:
        """The verifier of the configured keys (`hmac_secret` is the HS256 secret, if any)."""
        jwks = load_jwks_file(settings.jwks_file) if settings.jwks_file else None
        url_keys = None
        if settings.jwks_url:
            url_keys = JwksCache(settings.jwks_url, lifetime_s=settings.jwks_lifetime_s)
        return cls(settings, hmac_secret=hmac_secret, jwks=jwks, url_keys=url_keys)

    @property
    def has_asymmetric_keys(self) -> bool:
        """True when a JWKS (file or URL) is configured."""
        return bool(self.jwks) or self.url_keys is not None

    @property
    def keys_version(self) -> int:
        """Grows whenever a key of the JWKS URL is withdrawn (0 without a URL)."""
        return self.url_keys.version if self.url_keys is not None else 0

    def key_for(
        self, token: str, *, allow_hmac: bool = True, fetch: bool = True
    ) -> tuple[Any, str]:
        """The key and the one algorithm this token must be verified with.

        With `fetch=False`, a key set that must first be fetched raises `KeyNotCached`.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg == "HS256" and allow_hmac and self.hmac_secret is not None:
            return self.hmac_secret, "HS256"
        if alg not in ASYMMETRIC or not self.has_asymmetric_keys:
            raise TokenRefused("algorithm not accepted")
        jwk = self._jwk(kid, fetch=fetch)
        if jwk.algorithm_name != alg:
            raise TokenRefused("algorithm not accepted")
        return jwk.key, alg

    def _jwk(self, kid: Any, *, fetch: bool) -> PyJWK:
        if kid is not None and not (isinstance(kid, str) and PLAUSIBLE_KID.fullmatch(kid)):
            raise TokenRefused("malformed kid")
        if self.url_keys is not None:
            if kid is None:
                raise TokenRefused("the token names no key (kid)")
            return self._url_key(self.url_keys, kid, fetch=fetch)
        if kid is None and len(self.jwks) == 1:
            return next(iter(self.jwks.values()))
        if kid is None or kid not in self.jwks:
            raise TokenRefused("unknown signing key")
        return self.jwks[kid]

    @staticmethod
    def _url_key(keys: JwksCache, kid: str, *, fetch: bool) -> PyJWK:
        """The key of `kid` from the JWKS URL's current set, fetched first when due."""
        try:
            return keys.lookup(kid)
        except KeyNotCached:
            if not fetch:
                raise
        keys.refresh()
        try:
            return keys.lookup(kid)
        except KeyNotCached:  # pragma: no cover - a fetch that just happened is not due
            raise KeysUnavailable("the key set could not be refreshed") from None

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
        options: dict[str, Any] = {
            "require": require,
            "verify_aud": audience is not None,
            "verify_exp": False,  # below, on `self.clock`
        }
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
        except jwt.PyJWTError as e:
            raise TokenRefused(_reason(e)) from None
        self._check_exp(claims)
        return claims

    def _check_exp(self, claims: dict[str, Any]) -> None:
        """RFC 7519 §4.1.4, as PyJWT compares it: expired when `exp <= now - leeway`."""
        if "exp" not in claims:
            return  # `require` decides whether it must be there
        try:
            exp = int(claims["exp"])
        except (TypeError, ValueError, OverflowError):
            raise TokenRefused("invalid token") from None
        if exp <= self.clock() - self.settings.jwt_leeway_s:
            raise TokenRefused("token expired")


REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.InvalidAudienceError, "token not meant for this audience"),
    (jwt.InvalidIssuerError, "token from another issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
)


def _reason(error: jwt.PyJWTError) -> str:
    """A short fixed reason for a refused token (the exception itself is only logged)."""
    log.debug("token refused: %s: %s", type(error).__name__, error)
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token lacks the {error.claim!r} claim"
    return next((text for kind, text in REASONS if isinstance(error, kind)), "invalid token")
