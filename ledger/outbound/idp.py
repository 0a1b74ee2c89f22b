"""Identity providers' session APIs the ledger enforces terminations at: the `[connection.enforce]`
table of a `wso2` or `keycloak` connection (`LEDGER_CONNECTIONS_FILE`), and each call.

* `wso2` (WSO2 Identity Server, Asgardeo), the Session Management REST API v1 (wso2
  identity-api-user `session.yaml`), under `{base_url}/t/{tenant_domain}/api/users/v1`:
  `DELETE /{user-id}/sessions/{session-id}` ends one session, `DELETE /{user-id}/sessions`
  all of a user's; both want scope `internal_session_delete` and answer 204. Token endpoint
  `{base_url}/t/{tenant_domain}/oauth2/token` unless `token_url` says otherwise.
* `keycloak`, the admin REST API under `{base_url}/admin/realms/{realm}`:
  `DELETE /sessions/{session}` ends one session (`RealmAdminResource.deleteSession`, 404 when
  there is none), `POST /users/{id}/logout` all of a user's (`UserResource.logout`);
  the service account of the client needs `realm-management` `manage-users`. Token endpoint
  `{base_url}/realms/{realm}/protocol/openid-connect/token` unless `token_url` is given.

The client secret comes from `client_secret`, `client_secret_file` or `client_secret_env`
(exactly one) and is never stored in the database; only the rest of the target is (the
receiver's `config`). URLs must be absolute `https://` (`http://` only where private networks
are allowed); the SSRF guard checks their addresses on every connection.
Tests: tests/enforcement/test_config.py.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ledger import validation as check
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.outbound.enforcement import USER

SETTING = "LEDGER_CONNECTIONS_FILE"
WSO2_SCOPE = "internal_session_delete"  # session.yaml: the scope of both DELETEs
COMMON_KEYS = frozenset(
    {"base_url", "token_url", "client_id", "client_secret", "client_secret_file",
     "client_secret_env", "enforce_expiry"}
)  # fmt: skip
KIND_KEYS = {"wso2": COMMON_KEYS | {"tenant_domain"}, "keycloak": COMMON_KEYS | {"realm"}}
SECRET_KEYS = ("client_secret", "client_secret_file", "client_secret_env")


@dataclass(frozen=True)
class IdpTarget:
    """Where and as whom the ledger ends sessions at one connection's identity provider."""

    connection: str
    kind: str
    tenant: str
    base_url: str
    domain: str  # the WSO2 tenant domain, or the Keycloak realm
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    enforce_expiry: bool = False

    @property
    def receiver_id(self) -> str:
        """The outbound receiver that holds this connection's messages."""
        return f"connection:{self.connection}"

    @property
    def scope(self) -> str | None:
        """The scope asked for with the token (Keycloak's roles come with the client)."""
        return WSO2_SCOPE if self.kind == "wso2" else None

    def public(self) -> dict[str, Any]:
        """What is stored as the receiver's config (everything but the secret)."""
        return {
            "connection": self.connection,
            "base_url": self.base_url,
            "domain": self.domain,
            "token_url": self.token_url,
            "client_id": self.client_id,
            "enforce_expiry": self.enforce_expiry,
        }

    def call(self, body: Mapping[str, Any]) -> tuple[str, str]:
        """The method and URL ending what a message says (one session, or all a user's)."""
        user = quote(str(body["user_id"]), safe="")
        domain = quote(self.domain, safe="")
        if self.kind == "wso2":
            sessions = f"{self.base_url}/t/{domain}/api/users/v1/{user}/sessions"
            if body["scope"] == USER:
                return "DELETE", sessions
            return "DELETE", f"{sessions}/{quote(str(body['session_id']), safe='')}"
        admin = f"{self.base_url}/admin/realms/{domain}"
        if body["scope"] == USER:
            return "POST", f"{admin}/users/{user}/logout"
        return "DELETE", f"{admin}/sessions/{quote(str(body['session_id']), safe='')}"


def parse_target(
    table: Mapping[str, Any], *, connection: str, kind: str, tenant: str, base: Path,
    allow_private: bool,
) -> IdpTarget:  # fmt: skip
    """The target of a connection's `enforce` table (ValueError naming what is wrong)."""
    if kind not in KIND_KEYS:
        raise ValueError(f"`enforce` is for wso2 and keycloak connections, not {kind}")
    if not isinstance(table, dict):
        raise ValueError("`enforce` must be a table")
    unknown = sorted(set(table) - KIND_KEYS[kind])
    if unknown:
        raise ValueError(f"enforce: unknown key(s) {', '.join(unknown)}")
    base_url = _url(table, "base_url", allow_private=allow_private, required=True)
    assert base_url is not None
    domain = _required(table, "tenant_domain" if kind == "wso2" else "realm")
    expiry = table.get("enforce_expiry", False)
    if not isinstance(expiry, bool):
        raise ValueError("enforce: `enforce_expiry` must be true or false")
    client_id = _required(table, "client_id")
    token_url = _url(table, "token_url", allow_private=allow_private, required=False)
    return IdpTarget(
        connection=connection, kind=kind, tenant=tenant, base_url=base_url, domain=domain,
        token_url=token_url or _default_token_url(kind, base_url, domain), client_id=client_id,
        client_secret=_client_secret(table, base=base), enforce_expiry=expiry,
    )  # fmt: skip


def _default_token_url(kind: str, base_url: str, domain: str) -> str:
    quoted = quote(domain, safe="")
    if kind == "wso2":  # tenant-qualified, as Asgardeo documents it
        return f"{base_url}/t/{quoted}/oauth2/token"
    return f"{base_url}/realms/{quoted}/protocol/openid-connect/token"


def _required(table: Mapping[str, Any], key: str) -> str:
    value = _text(table, key)
    if value is None:
        raise ValueError(f"enforce: `{key}` is required")
    return value


def _text(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ValueError(f"enforce: `{key}` must be a non-empty string")
    return value


def _url(table: Mapping[str, Any], key: str, *, allow_private: bool, required: bool) -> str | None:
    value = _text(table, key)
    if value is None:
        if required:
            raise ValueError(f"enforce: `{key}` is required")
        return None
    parts = urlsplit(value)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.query or parts.fragment:
        allowed = "https:// (http:// only with private networks allowed)"
        raise ValueError(f"enforce: `{key}` must be an absolute {allowed} URL, no query")
    if parts.username or parts.password:
        raise ValueError(f"enforce: `{key}` must not carry credentials")
    return value.rstrip("/")


def _client_secret(table: Mapping[str, Any], *, base: Path) -> str:
    given = [k for k in SECRET_KEYS if k in table]
    if len(given) != 1:
        raise ValueError("enforce: set exactly one of " + ", ".join(f"`{k}`" for k in SECRET_KEYS))
    value = _text(table, given[0])
    assert value is not None
    if given[0] == "client_secret_file":
        try:
            value = (base / Path(value).expanduser()).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"enforce: cannot read `client_secret_file`: {e}") from None
    elif given[0] == "client_secret_env":
        value = os.environ.get(value, "")
    if not value:
        raise ValueError(f"enforce: `{given[0]}` gives an empty secret")
    return value


def load_targets(settings: Settings, *, allow_private: bool) -> dict[str, IdpTarget]:
    """Every connection's enforcement target in `LEDGER_CONNECTIONS_FILE`, by connection name."""
    path = settings.connections_file
    if path is None:
        return {}
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(SETTING, f"cannot read {path}: {e}") from None
    targets: dict[str, IdpTarget] = {}
    tables = data.get("connection", [])
    for table in tables if isinstance(tables, list) else []:
        if not isinstance(table, dict) or "enforce" not in table:
            continue
        name = str(table.get("name"))
        try:
            targets[name] = parse_target(
                table["enforce"], connection=name, kind=str(table.get("kind")),
                tenant=check.tenant(table.get("tenant") or "default"), base=Path(path).parent,
                allow_private=allow_private,
            )  # fmt: skip
        except (ValueError, TypeError) as e:
            raise ConfigError(SETTING, f"connection {name!r}: {e}") from None
    return targets
