"""Enforcement fixtures: the two test identity providers, and a ledger whose connections file
names them, with the delivery worker running and quick retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (  # noqa: F401 - fixtures
    Minter,
    api_settings,
    api_system,
    client,
    ec_key,
    hs,
    jwks_file,
    make_client,
    rs,
    rsa_key,
    stranger_key,
)
from tests.enforcement.idp_servers import KeycloakServer, Wso2Server

TENANT = "acme"
CLIENT_ID, CLIENT_SECRET = "ledger-enforcer", "s3cr3t: with spaces & symbols"
WEBHOOK_SECRET = "inbound-webhook-secret-0123456789"
QUICK = {
    "outbound_allow_private_networks": True,  # the test IdPs listen on 127.0.0.1
    "outbound_retry_base_s": 0.05,
    "outbound_retry_max_s": 0.2,
    "outbound_max_attempts": 2,  # an IdP must outlast it (never disabled)
}


def wso2_connection(server: Wso2Server, *, name: str = "asgardeo", tenant: str = TENANT) -> str:
    """A `wso2` connection enforcing at `server` (secret given inline)."""
    return f"""
[[connection]]
name = "{name}"
kind = "wso2"
tenant = "{tenant}"
secret = "{WEBHOOK_SECRET}"

[connection.enforce]
base_url = "{server.base_url}"
tenant_domain = "{server.tenant_domain}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"""


def keycloak_connection(
    server: KeycloakServer, *, secret_file: Path, name: str = "keycloak", tenant: str = TENANT
) -> str:
    """A `keycloak` connection enforcing at `server` (secret from a file)."""
    return f"""
[[connection]]
name = "{name}"
kind = "keycloak"
tenant = "{tenant}"
secret = "{WEBHOOK_SECRET}"

[connection.enforce]
base_url = "{server.base_url}"
realm = "{server.realm}"
client_id = "{CLIENT_ID}"
client_secret_file = "{secret_file}"
"""


@pytest.fixture
def wso2_idp() -> Iterator[Wso2Server]:
    server = Wso2Server(
        tenant_domain="acme.example", client_id=CLIENT_ID, client_secret=CLIENT_SECRET
    )
    yield server
    server.close()


@pytest.fixture
def keycloak_idp() -> Iterator[KeycloakServer]:
    server = KeycloakServer(realm="acme", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    yield server
    server.close()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "keycloak-client-secret"
    path.write_text(CLIENT_SECRET + "\n")
    return path


@pytest.fixture
def enforcing(
    make_client: Callable[..., TestClient],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> Callable[..., TestClient]:
    """A client of an app whose connections file is the given TOML text."""

    def make(toml: str, **settings: Any) -> TestClient:
        path = tmp_path / "connections.toml"
        path.write_text(toml)
        return make_client(connections_file=path, **(QUICK | settings))

    return make


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `condition` until it is true (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Ledger:
    """What the tests do through the ledger's HTTP API, with real tokens."""

    def __init__(self, client: TestClient, hs: Minter) -> None:  # noqa: F811
        self.client, self.hs = client, hs

    def start(self, user: str, *sessions: str) -> None:
        headers = self.hs.auth("idp", "sessions:ingest")
        for sid in sessions:
            body = {"session_id": sid, "user_id": user}
            response = self.client.post("/v1/sessions", json=body, headers=headers)
            assert response.status_code == 201, response.text

    def admin_end(self, user: str, session: str) -> None:
        headers = self.hs.auth("admin-7", "sessions:terminate")
        response = self.client.delete(f"/v1/users/{user}/sessions/{session}", headers=headers)
        assert response.status_code == 204, response.text

    def reset_password(self, user: str) -> None:
        headers = self.hs.auth("idp", "sessions:ingest")
        response = self.client.post(f"/v1/users/{user}/password-reset", json={}, headers=headers)
        assert response.status_code == 200, response.text

    def deliveries(self) -> dict[str, dict[str, Any]]:
        """`GET /v1/outbound/deliveries` by receiver id."""
        headers = self.hs.auth("operator", "sessions:audit")
        response = self.client.get("/v1/outbound/deliveries", headers=headers)
        assert response.status_code == 200, response.text
        return {r["id"]: r for r in response.json()["receivers"]}

    def metric(self, name: str, receiver: str) -> float | None:
        """A sample of /metrics for the receiver (None when absent)."""
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(name + "{") and f'receiver="{receiver}"' in line:
                return float(line.rsplit(" ", 1)[1])
        return None
