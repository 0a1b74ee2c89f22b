"""Development tokens: the random development secret and `mint_token` (`ledger token`).

With no signing key configured, `ledger serve --dev` creates a random secret in
`LEDGER_DEV_SECRET_FILE` (default `var/dev-secret`, mode 0600; never a constant in the code)
and the API accepts HS256 tokens signed with it. `mint_token` signs with `LEDGER_JWT_SECRET`
when set, else with that development secret. Tokens of a real IdP (JWKS) are never minted
here. The web pages' development sign-in calls `mint_token` too.
Tests: tests/api/test_tokens.py.
"""

from __future__ import annotations

import secrets
import stat
import time
import uuid
from pathlib import Path

import jwt

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.keys.private_files import create_private_file

SECRET_SETTING = "LEDGER_DEV_SECRET_FILE"  # noqa: S105 - a variable name
MAX_TTL_S = 30 * 86_400
MIN_DEV_SECRET_CHARS = 32


def read_dev_secret(path: Path, *, create: bool) -> bytes | None:
    """The development secret in `path`; created (0600) when missing and `create`."""
    if create:
        new_secret = (secrets.token_urlsafe(48) + "\n").encode
        create_private_file(path, new_secret, setting=SECRET_SETTING)
    try:
        mode = path.stat().st_mode
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(SECRET_SETTING, f"cannot read {path}: {e.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(SECRET_SETTING, f"{path} is readable by others; chmod 600 it")
    if len(text) < MIN_DEV_SECRET_CHARS:
        raise ConfigError(SECRET_SETTING, f"{path} holds a secret shorter than 32 characters")
    return text.encode()


def signing_secret(settings: Settings, *, create: bool = False) -> tuple[bytes, bool]:
    """The HS256 secret tokens are minted with, and whether it is the development one."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value().encode(), False
    if settings.jwks_file is not None or settings.jwks_url is not None:
        raise ConfigError(
            "LEDGER_JWKS_FILE" if settings.jwks_file else "LEDGER_JWKS_URL",
            "tokens come from your identity provider; `ledger token` mints only with "
            "LEDGER_JWT_SECRET or the development secret",
        )
    secret = read_dev_secret(settings.dev_secret_file, create=create)
    if secret is None:
        raise ConfigError(
            SECRET_SETTING,
            f"no development secret at {settings.dev_secret_file}: run `ledger serve --dev` "
            "(`make run`) first, or set LEDGER_JWT_SECRET",
        )
    return secret, True


def mint_token(
    settings: Settings,
    *,
    sub: str,
    scope: str,
    tenant: str = "default",
    sid: str | None = None,
    ttl: int = 3600,
) -> str:
    """A signed HS256 token for `sub` with `scope` (space-separated) in `tenant`.

    Signed with `LEDGER_JWT_SECRET`, else the development secret (created when missing).
    Carries `iss`/`aud` when `LEDGER_JWT_ISSUER`/`LEDGER_JWT_AUDIENCE` are set, so the API
    accepts it. Raises ConfigError when no secret can sign (JWKS configured).
    """
    longest = min(MAX_TTL_S, settings.jwt_max_lifetime_s)  # the API refuses longer ones
    if not 1 <= ttl <= longest:
        raise ConfigError("--ttl", f"from 1 to {longest} seconds (LEDGER_JWT_MAX_LIFETIME_S)")
    if not sub or len(sub) > 255:
        raise ConfigError("--sub", "1 to 255 characters")
    secret, _ = signing_secret(settings, create=True)
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": sub,
        "scope": " ".join(scope.split()),
        settings.tenant_claim: tenant,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
    }
    if sid:
        claims["sid"] = sid
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256")
