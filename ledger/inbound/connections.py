"""The connections file (`LEDGER_CONNECTIONS_FILE`, TOML): one adapter per `[[connection]]`.

`load_connections(settings)` reads and checks the whole file once; a malformed file, an
unknown key or kind, a duplicate name, or a connection missing what its kind needs raises
`ConfigError("LEDGER_CONNECTIONS_FILE", ...)`, which stops the service with one line.
Secrets come from `secret`, `secret_file` or `secret_env` (exactly one), keys from
`jwks_file` or `jwks_url`, the SAML IdP's certificate from `idp_certificate_file`. A `wso2`
or `keycloak` connection may carry an `enforce` table (the IdP's session API, where the
ledger's terminations are enforced: `ledger.outbound.idp`), checked here too.
Tests: tests/inbound/test_connections.py, tests/enforcement/test_config.py.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ledger import validation as check
from ledger.config import Settings, is_safe_jwks_url
from ledger.errors import ConfigError
from ledger.inbound.keycloak import KeycloakAdapter
from ledger.inbound.oidc import OidcAdapter
from ledger.inbound.saml import SamlAdapter
from ledger.inbound.seam import Adapter, Connection
from ledger.inbound.ssf import SsfAdapter
from ledger.inbound.wso2 import Wso2Adapter
from ledger.keys.jwks import JwksCache
from ledger.keys.verifier import TokenVerifier, load_jwks_file
from ledger.outbound.delivery import allow_private
from ledger.outbound.idp import parse_target

SETTING = "LEDGER_CONNECTIONS_FILE"
ADAPTERS: dict[str, type[Adapter]] = {
    "wso2": Wso2Adapter,
    "keycloak": KeycloakAdapter,
    "ssf": SsfAdapter,
    "saml": SamlAdapter,
    "oidc": OidcAdapter,
}
COMMON = {"name", "kind", "tenant", "secret", "secret_file", "secret_env", "issuer", "audience"}
KEYS = COMMON | {"jwks_file", "jwks_url", "idp_certificate_file", "replay_window_s", "enforce"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_SECRET_BYTES = 16


@dataclass(frozen=True)
class Connections:
    """The configured connections' adapters by name, and the legacy back-channel logout's."""

    legacy: OidcAdapter
    adapters: Mapping[str, Adapter] = field(default_factory=dict)

    def get(self, name: str) -> Adapter | None:
        """The adapter of connection `name`, if configured."""
        return self.adapters.get(name)

    def oidc_for_issuer(self, issuer: Any) -> Adapter | None:
        """The `oidc` connection whose issuer is `issuer` (the legacy endpoint uses it)."""
        for adapter in self.adapters.values():
            if adapter.kind == "oidc" and adapter.connection.issuer == issuer:
                return adapter
        return None

    def __iter__(self) -> Iterator[Adapter]:
        return iter(self.adapters.values())


def load_connections(settings: Settings) -> Connections:
    """The connections of `settings.connections_file` (none when unset), or ConfigError."""
    legacy = legacy_backchannel(settings)
    path = settings.connections_file
    if path is None:
        return Connections(legacy)
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(SETTING, f"cannot read {path}: {e}") from None
    tables = data.get("connection", [])
    if set(data) - {"connection"} or not isinstance(tables, list):
        raise ConfigError(SETTING, f"{path}: expected only [[connection]] tables")
    adapters: dict[str, Adapter] = {}
    for index, table in enumerate(tables):
        label = f"connection #{index + 1}"
        if isinstance(table, dict) and isinstance(table.get("name"), str):
            label = f"connection {table['name']!r}"
        try:
            adapter = _adapter(table, settings=settings, base=Path(path).parent)
        except (ValueError, TypeError) as e:
            raise ConfigError(SETTING, f"{label}: {e}") from None
        if adapter.connection.name in adapters:
            raise ConfigError(SETTING, f"{label}: the name is used twice")
        adapters[adapter.connection.name] = adapter
    return Connections(legacy, adapters)


def legacy_backchannel(settings: Settings) -> OidcAdapter:
    """`/v1/oidc/backchannel-logout` for tokens of no connection: keys, issuer and audience
    from the settings, the tenant from the token's tenant claim (`default` when absent)."""
    connection = Connection(
        name="backchannel",
        kind="oidc",
        tenant="default",
        issuer=settings.oidc_issuer or settings.jwt_issuer,
        audience=settings.backchannel_audience or settings.oidc_client_id or settings.jwt_audience,
        keys=TokenVerifier.from_settings(settings, hmac_secret=None),
        options={"max_age_s": settings.backchannel_max_age_s},
    )
    return OidcAdapter(
        connection, tenant_claim=settings.tenant_claim, leeway_s=settings.jwt_leeway_s
    )


def _adapter(table: Any, *, settings: Settings, base: Path) -> Adapter:
    if not isinstance(table, dict):
        raise TypeError("not a table")
    unknown = sorted(set(table) - KEYS - _extra_keys(table.get("kind")))
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(unknown)}")
    name, kind = table.get("name"), table.get("kind")
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError("`name` must be 1-64 letters, digits, '-' or '_'")
    if kind not in ADAPTERS:
        raise ValueError(f"`kind` must be one of {', '.join(ADAPTERS)}")
    window = table.get("replay_window_s", 7 * 86_400)
    if not isinstance(window, int) or not 60 <= window <= 366 * 86_400:
        raise ValueError("`replay_window_s` must be an integer from 60 to 31622400")
    connection = Connection(
        name=name,
        kind=kind,
        tenant=check.tenant(_text(table, "tenant") or "default"),
        secret=_secret(table, base=base),
        issuer=_text(table, "issuer"),
        audience=_text(table, "audience"),
        keys=_keys(table, settings=settings, base=base),
        idp_certificate=_certificate(table, base=base),
        replay_window=timedelta(seconds=window),
        options={k: v for k, v in table.items() if k not in KEYS},
    )
    _check_enforce(table, connection, settings=settings, base=base)
    return ADAPTERS[kind](connection)


def _check_enforce(
    table: Mapping[str, Any], connection: Connection, *, settings: Settings, base: Path
) -> None:
    """The `enforce` table, checked as the outbound side will read it."""
    if "enforce" in table:
        parse_target(
            table["enforce"], connection=connection.name, kind=connection.kind,
            tenant=connection.tenant, base=base, allow_private=allow_private(settings),
        )  # fmt: skip


def _extra_keys(kind: Any) -> frozenset[str]:
    adapter = ADAPTERS.get(kind) if isinstance(kind, str) else None
    return adapter.options if adapter is not None else frozenset()


def _text(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"`{key}` must be a non-empty string")
    return value


def _path(table: Mapping[str, Any], key: str, *, base: Path) -> Path | None:
    value = _text(table, key)
    return None if value is None else base / Path(value).expanduser()


def _secret(table: Mapping[str, Any], *, base: Path) -> bytes | None:
    given = [k for k in ("secret", "secret_file", "secret_env") if k in table]
    if len(given) > 1:
        raise ValueError("set only one of `secret`, `secret_file`, `secret_env`")
    if not given:
        return None
    value = _text(table, given[0])
    assert value is not None
    if given[0] == "secret_file":
        path = _path(table, "secret_file", base=base)
        assert path is not None
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"cannot read `secret_file`: {e}") from None
    elif given[0] == "secret_env":
        value = os.environ.get(value, "")
        if not value:
            raise ValueError(f"`secret_env`: the variable {table['secret_env']} is not set")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret is shorter than {MIN_SECRET_BYTES} bytes")
    return value.encode()


def _keys(table: Mapping[str, Any], *, settings: Settings, base: Path) -> TokenVerifier | None:
    path, url = _path(table, "jwks_file", base=base), _text(table, "jwks_url")
    if path is not None and url is not None:
        raise ValueError("set either `jwks_file` or `jwks_url`, not both")
    if path is not None:
        try:
            return TokenVerifier(settings, hmac_secret=None, jwks=load_jwks_file(path))
        except ConfigError as e:
            raise ValueError(f"`jwks_file`: {e.problem}") from None
    if url is not None:
        if not is_safe_jwks_url(url):
            raise ValueError("`jwks_url` must be https:// (http only for a loopback host)")
        keys = JwksCache(url, lifetime_s=settings.jwks_lifetime_s)
        return TokenVerifier(settings, hmac_secret=None, url_keys=keys)
    return None


def _certificate(table: Mapping[str, Any], *, base: Path) -> str | None:
    path = _path(table, "idp_certificate_file", base=base)
    if path is None:
        return None
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read `idp_certificate_file`: {e}") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError("`idp_certificate_file` holds no PEM certificate")
    return text
