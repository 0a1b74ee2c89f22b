"""One settings object (pydantic-settings), built by `load_settings()`, never at import time.

Every setting is an environment variable `LEDGER_<NAME>`. An invalid or unsafe value, or a
`LEDGER_*` variable that names no setting (a typo), stops the ledger with one line naming the
variable; `LEDGER_TEST_*` is left to the test suite and tools.
Tests: tests/unit/test_url_and_config.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.aggregates.rules import (
    DEFAULT_ACTIVITY_GRANULARITY_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_LIFETIME_S,
    MAX_TIMEOUT_S,
)
from ledger.committer import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_GROUP_COMMIT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_WAIT_MS,
)
from ledger.errors import ConfigError
from ledger.persistence.url import DatabaseURL

MIN_SECRET_BYTES = 32
ENV_PREFIX = "LEDGER_"
NOT_SETTINGS_PREFIX = "LEDGER_TEST_"
"""Variables of the test suite and tools (never read as settings, never refused)."""


class Settings(BaseSettings):
    """The ledger's configuration."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    database_url: str = "sqlite:///var/ledger.sqlite3"
    views_database_url: str | None = None
    consistency_timeout_s: float = Field(2.0, gt=0, le=60)
    activity_granularity_s: int = Field(DEFAULT_ACTIVITY_GRANULARITY_S, ge=0, le=86_400)
    default_idle_timeout_s: int = Field(DEFAULT_IDLE_TIMEOUT_S, ge=1, le=MAX_TIMEOUT_S)
    default_max_lifetime_s: int = Field(DEFAULT_MAX_LIFETIME_S, ge=1, le=MAX_TIMEOUT_S)
    group_commit: bool = DEFAULT_GROUP_COMMIT
    group_commit_max_batch: int = Field(DEFAULT_MAX_BATCH, ge=1, le=10_000)
    group_commit_max_wait_ms: float = Field(DEFAULT_MAX_WAIT_MS, ge=0, le=100)
    aggregate_cache_size: int = Field(DEFAULT_CACHE_SIZE, ge=0, le=10_000_000)
    reaper_interval_s: float = Field(15.0, gt=0, le=3600)
    seal_interval_s: float = Field(300.0, gt=0)
    run_projections: bool = True
    projection_batch: int = Field(2000, ge=1, le=100_000)
    pg_pool_size: int = Field(10, ge=1, le=200)
    # PostgreSQL outages: how long a request may wait, see ledger.persistence.pools.
    db_pool_wait_s: float = Field(1.0, gt=0, le=60)
    db_reconnect_s: float = Field(2.0, gt=0, le=600)
    db_connect_timeout_s: int = Field(2, ge=2, le=60)

    jwt_secret: SecretStr | None = None
    jwks_file: Path | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_s: int = Field(30, ge=0, le=300)
    tenant_claim: str = "tenant"
    backchannel_audience: str | None = None
    backchannel_max_age_s: int = Field(600, ge=10, le=86_400)
    dev_secret_file: Path = Path("var/dev-secret")
    dev_mode: bool = False
    jwt_max_lifetime_s: int = Field(86_400, ge=60, le=30 * 86_400)
    jwks_lifetime_s: int = Field(300, ge=1, le=86_400)
    require_sid: bool = False
    metrics_scope: str | None = Field(None, min_length=1, max_length=255)
    # Explicit opt-outs of safe defaults; see README, Security.
    unsafe_skip_issuer_audience: bool = False
    unsafe_dev_mode_exposed: bool = False

    connections_file: Path | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    max_batch_body_bytes: int = Field(1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    ready_max_lag: int = Field(1000, ge=0)

    # Outbound: Shared Signals transmitter and Standard Webhooks (ledger/outbound).
    issuer: str | None = None
    signing_key_file: Path | None = None
    dev_signing_key_file: Path = Path("var/ssf-signing-key.pem")
    outbound_allow_private_networks: bool = False
    outbound_max_attempts: int = Field(12, ge=1, le=100)
    outbound_retry_base_s: float = Field(1.0, gt=0, le=3600)
    outbound_retry_max_s: float = Field(3600.0, gt=0, le=86_400)
    outbound_timeout_s: float = Field(15.0, gt=0, le=60)
    ssf_poll_wait_s: float = Field(10.0, ge=0, le=60)
    outbound_retention_s: float = Field(7 * 86_400.0, gt=0)

    @model_validator(mode="after")
    def _check_safety(self) -> Settings:
        secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
        if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"jwt_secret: shorter than {MIN_SECRET_BYTES} bytes")
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("jwks_url: set either LEDGER_JWKS_FILE or LEDGER_JWKS_URL, not both")
        if self.jwks_url is not None and not is_safe_jwks_url(self.jwks_url):
            raise ValueError("jwks_url: must be https:// (http only for localhost)")
        self._check_dev_mode()
        self._check_issuer_audience()
        return self

    def _check_dev_mode(self) -> None:
        """Development mode mints tokens for anyone: never on a production database."""
        if not self.dev_mode or self.unsafe_dev_mode_exposed:
            return
        urls = (self.database_url, self.views_database_url or "")
        if any(url.startswith(("postgresql:", "postgres:")) for url in urls):
            raise ValueError(
                "dev_mode: development mode refused on a PostgreSQL database "
                "(set LEDGER_UNSAFE_DEV_MODE_EXPOSED=true to force it)"
            )

    def _check_issuer_audience(self) -> None:
        """RFC 8725 §3.8, §3.9: outside development mode, `iss` and `aud` are enforced."""
        if self.dev_mode or self.unsafe_skip_issuer_audience or not self.has_signing_keys:
            return
        for name in ("jwt_issuer", "jwt_audience"):
            if not getattr(self, name):
                raise ValueError(
                    f"{name}: required outside development mode, or tokens minted for "
                    "other services are accepted (opt out: LEDGER_UNSAFE_SKIP_ISSUER_AUDIENCE=true)"
                )

    @property
    def events_url(self) -> DatabaseURL:
        """The parsed events database URL (with the pools' time bounds)."""
        return self._bounded(DatabaseURL.parse(self.database_url, setting="LEDGER_DATABASE_URL"))

    @property
    def views_url(self) -> DatabaseURL:
        """The parsed views database URL (the events database unless set)."""
        if self.views_database_url is None:
            return self.events_url
        return self._bounded(
            DatabaseURL.parse(self.views_database_url, setting="LEDGER_VIEWS_DATABASE_URL")
        )

    def _bounded(self, url: DatabaseURL) -> DatabaseURL:
        return dataclasses.replace(
            url,
            pool_wait_s=self.db_pool_wait_s,
            reconnect_s=self.db_reconnect_s,
            connect_timeout_s=self.db_connect_timeout_s,
        )

    @property
    def has_signing_keys(self) -> bool:
        """True when a secret or a JWKS is configured (else development mode)."""
        return bool(self.jwt_secret or self.jwks_file or self.jwks_url)


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """`LEDGER_*` variables that name no setting (a typo would otherwise pass unnoticed)."""
    names = {f"{ENV_PREFIX}{field}".upper() for field in Settings.model_fields}
    environ = os.environ if environ is None else environ
    return sorted(
        key
        for key in environ
        if key.upper().startswith(ENV_PREFIX)
        and not key.upper().startswith(NOT_SETTINGS_PREFIX)
        and key.upper() not in names
    )


def is_safe_jwks_url(url: str) -> bool:
    """https with a host, or http on a loopback host (the URL parsed, not prefix-matched)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        return False
    if not host or parts.username is not None or parts.password is not None:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and is_loopback_host(host)


def is_loopback_host(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and overrides), or raise ConfigError."""
    unknown = unknown_variables()
    if unknown:
        near = difflib.get_close_matches(
            unknown[0].upper(), [f"{ENV_PREFIX}{f}".upper() for f in Settings.model_fields], n=1
        )
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise ConfigError(unknown[0], f"not a setting of the ledger{hint}")
    try:
        settings = Settings(**overrides)
        _ = settings.events_url, settings.views_url
    except ValidationError as e:
        first = e.errors()[0]
        loc = str(first["loc"][0]) if first["loc"] else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        if not loc and ":" in message:
            loc, message = (part.strip() for part in message.split(":", 1))
        raise ConfigError(f"LEDGER_{loc.upper()}", message) from None
    return settings
