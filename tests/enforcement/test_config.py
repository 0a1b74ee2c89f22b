"""The `[connection.enforce]` table: what it accepts, what stops the service with one line,
the calls it leads to, and the receivers kept in step with the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.bootstrap import LedgerSystem
from ledger.config import Settings, load_settings
from ledger.errors import ConfigError
from ledger.inbound.connections import load_connections
from ledger.outbound import receivers
from ledger.outbound.enforcement import SESSION, USER
from ledger.outbound.enforcer import sync
from ledger.outbound.idp import load_targets
from ledger.outbound.runtime import open_store

WSO2 = """
[[connection]]
name = "asgardeo"
kind = "wso2"
tenant = "acme"
secret = "inbound-webhook-secret-0123456789"

[connection.enforce]
base_url = "https://api.asgardeo.io/"
tenant_domain = "acme"
client_id = "enforcer"
client_secret_env = "ENFORCE_TEST_CLIENT_SECRET"
"""
KEYCLOAK = """
[[connection]]
name = "kc"
kind = "keycloak"
tenant = "acme"
secret = "inbound-webhook-secret-0123456789"

[connection.enforce]
base_url = "https://sso.example.com/auth"
realm = "acme prod"
client_id = "ledger"
client_secret = "kc-secret"
enforce_expiry = true
"""


@pytest.fixture
def settings_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings naming a connections file of the given text (reading it needs no database)."""
    monkeypatch.setenv("ENFORCE_TEST_CLIENT_SECRET", "from-the-environment")

    def make(toml: str, **overrides: object) -> Settings:
        path = tmp_path / "connections.toml"
        path.write_text(toml)
        values: dict[str, object] = {
            "database_url": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
            "jwt_secret": "test-secret-" + "x" * 40,
            "jwt_issuer": "https://idp.example.test",
            "jwt_audience": "session-ledger",
        }
        return load_settings(**(values | {"connections_file": path} | overrides))

    return make


def test_the_targets_and_their_documented_calls(settings_for: Callable[..., Settings]) -> None:
    targets = load_targets(settings_for(WSO2 + KEYCLOAK), allow_private=False)
    wso2, kc = targets["asgardeo"], targets["kc"]
    assert wso2.token_url == "https://api.asgardeo.io/t/acme/oauth2/token"
    assert wso2.client_secret == "from-the-environment" and wso2.scope == "internal_session_delete"
    assert "from-the-environment" not in repr(wso2) and "secret" not in str(wso2.public())
    one = {"scope": SESSION, "user_id": "a/b", "session_id": "s 1"}
    assert wso2.call(one) == (
        "DELETE", "https://api.asgardeo.io/t/acme/api/users/v1/a%2Fb/sessions/s%201"
    )  # fmt: skip
    assert wso2.call({"scope": USER, "user_id": "u"}) == (
        "DELETE", "https://api.asgardeo.io/t/acme/api/users/v1/u/sessions"
    )  # fmt: skip
    assert (
        kc.token_url
        == "https://sso.example.com/auth/realms/acme%20prod/protocol/openid-connect/token"
    )
    assert kc.scope is None and kc.enforce_expiry
    assert kc.call(one) == (
        "DELETE",
        "https://sso.example.com/auth/admin/realms/acme%20prod/sessions/s%201",
    )
    assert kc.call({"scope": USER, "user_id": "u"}) == (
        "POST", "https://sso.example.com/auth/admin/realms/acme%20prod/users/u/logout"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('tenant_domain = "acme"\n', ""), "`tenant_domain` is required"),
        (
            ('client_id = "enforcer"\n', 'client_id = "enforcer"\nrealm = "x"\n'),
            "unknown key(s) realm",
        ),
        (("client_secret_env", "client_secret_file = 'missing'\nclient_secret_env"), "exactly one"),
        (("https://api.asgardeo.io/", "http://api.asgardeo.io/"), "must be an absolute https://"),
        (
            ("https://api.asgardeo.io/", "https://user:pw@api.asgardeo.io/"),
            "must not carry credentials",
        ),
        (("ENFORCE_TEST_CLIENT_SECRET", "ENFORCE_TEST_UNSET"), "gives an empty secret"),
        (
            ('kind = "wso2"', 'kind = "ssf"\nissuer = "https://x"\njwks_url = "https://x/jwks"'),
            "for wso2 and keycloak",
        ),
    ],
)
def test_a_bad_enforce_table_stops_the_service_with_one_line(
    settings_for: Callable[..., Settings], change: tuple[str, str], problem: str
) -> None:
    settings = settings_for(WSO2.replace(*change))
    with pytest.raises(ConfigError) as raised:
        load_connections(settings)
    assert "connection 'asgardeo'" in str(raised.value) and problem in str(raised.value)
    with pytest.raises(ConfigError, match="connection 'asgardeo'"):
        load_targets(settings, allow_private=False)


def test_http_urls_are_accepted_where_private_networks_are(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for(
        WSO2.replace("https://", "http://"), outbound_allow_private_networks=True
    )
    assert load_connections(settings).get("asgardeo") is not None
    assert (
        load_targets(settings, allow_private=True)["asgardeo"].base_url == "http://api.asgardeo.io"
    )


def test_the_receivers_follow_the_file(
    settings_for: Callable[..., Settings], system: LedgerSystem
) -> None:
    store, factory = open_store(system.settings)
    try:
        both = load_targets(settings_for(WSO2 + KEYCLOAK), allow_private=False)
        sync(store, both, head=7, prune=True)
        sync(store, both, head=9, prune=True)  # another process starting: nothing changes
        found = {
            r["receiver_id"]: r for r in receivers.find(store, tenant=None, owner=None, kind=None)
        }
        assert set(found) == {"connection:asgardeo", "connection:kc"}
        assert found["connection:kc"]["from_position"] == 7
        assert found["connection:kc"]["config"]["domain"] == "acme prod"
        moved = load_targets(settings_for(KEYCLOAK.replace('realm = "acme prod"', 'realm = "b"')),
                             allow_private=False)  # fmt: skip
        sync(store, moved, head=12, prune=True)
        (left,) = receivers.find(store, tenant=None, owner=None, kind=None)
        assert left["receiver_id"] == "connection:kc" and left["config"]["domain"] == "b"
        assert left["from_position"] == 7  # what it was owed is still owed
        sync(store, {}, head=13, prune=False)  # a process without a connections file
        assert len(receivers.find(store, tenant=None, owner=None, kind=None)) == 1
    finally:
        factory.close()
