"""Terminations recorded in the ledger reach the identity provider's session API: through the
real app, its outbox process and delivery worker, to test IdPs over real HTTP that check
methods, paths, scopes and bearer tokens (tests/enforcement/idp_servers.py).

Log order per receiver is what lets a test know that nothing else is coming: once a later
termination has arrived, every earlier decision was delivered (or decided against).
What depends on the database (the decisions and their outbox rows, a reset's one message)
runs on SQLite and PostgreSQL; what only concerns sending (an IdP down, 404s, tokens, the
guard) runs on SQLite alone, to keep the suite quick."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter
from tests.conftest import FakeClock
from tests.enforcement.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    WEBHOOK_SECRET,
    Ledger,
    keycloak_connection,
    wait_until,
    wso2_connection,
)
from tests.enforcement.idp_servers import IdpServer, KeycloakServer, Wso2Server
from tests.inbound.helpers import at_ms, fixture

SENDING_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@dataclass
class Enforced:
    """A ledger enforcing at one test IdP, and what that IdP's calls look like."""

    ledger: Ledger
    idp: IdpServer
    receiver: str
    kind: str

    def one(self, user: str, session: str) -> str:
        if isinstance(self.idp, Wso2Server):
            return f"DELETE /t/{self.idp.tenant_domain}/api/users/v1/{user}/sessions/{session}"
        return f"DELETE /admin/realms/acme/sessions/{session}"

    def all(self, user: str) -> str:
        if isinstance(self.idp, Wso2Server):
            return f"DELETE /t/{self.idp.tenant_domain}/api/users/v1/{user}/sessions"
        return f"POST /admin/realms/acme/users/{user}/logout"

    def arrived(self, *calls: str) -> None:
        wait_until(lambda: len(self.idp.ended()) >= len(calls))
        assert self.idp.ended() == list(calls)
        assert self.idp.problems == []


@pytest.fixture(params=["wso2", "keycloak"])
def enforced(
    request: pytest.FixtureRequest,
    enforcing: Callable[..., TestClient],
    wso2_idp: Wso2Server,
    keycloak_idp: KeycloakServer,
    secret_file: Path,
    hs: Minter,
) -> Enforced:
    if request.param == "wso2":
        idp: IdpServer = wso2_idp
        client = enforcing(wso2_connection(wso2_idp))
        receiver = "connection:asgardeo"
    else:
        idp = keycloak_idp
        client = enforcing(keycloak_connection(keycloak_idp, secret_file=secret_file))
        receiver = "connection:keycloak"
    idp.sessions = {"alice": {"s-1", "s-2", "s-3"}, "bob": {"b-1", "b-2"}}
    return Enforced(Ledger(client, hs), idp, receiver, request.param)


def test_an_admin_termination_reaches_the_idp_as_its_documented_delete(
    enforced: Enforced,
) -> None:
    enforced.ledger.start("alice", "s-1", "s-2")
    enforced.ledger.admin_end("alice", "s-1")
    enforced.arrived(enforced.one("alice", "s-1"))
    idp = enforced.idp
    assert idp.sessions["alice"] == {"s-2", "s-3"}
    assert len(idp.token_requests) == 1  # RFC 6749 §4.4.2
    (form,) = idp.token_requests
    assert form["grant_type"] == "client_credentials"
    if enforced.kind == "wso2":  # session.yaml: internal_session_delete
        assert form["scope"].split() == ["internal_session_delete"]
    else:  # Keycloak: the service account's roles come with the client
        assert "scope" not in form
    (call,) = idp.calls
    assert idp.issued[call.token or ""].valid  # the bearer token the IdP issued


def test_a_password_reset_ends_all_the_users_sessions_in_one_call(enforced: Enforced) -> None:
    enforced.ledger.start("alice", "s-1", "s-2", "s-3")
    enforced.ledger.start("bob", "b-1")
    enforced.ledger.reset_password("alice")
    enforced.ledger.admin_end("bob", "b-1")  # the marker: after it, nothing more for alice
    enforced.arrived(enforced.all("alice"), enforced.one("bob", "b-1"))
    assert enforced.idp.sessions["alice"] == set()


@SENDING_ONLY
def test_an_idp_down_for_a_while_gets_every_termination_once_it_is_back(
    enforced: Enforced,
) -> None:
    ledger, idp = enforced.ledger, enforced.idp
    ledger.start("alice", "s-1", "s-2", "s-3")
    idp.down = True
    for sid in ("s-1", "s-2", "s-3"):
        ledger.admin_end("alice", sid)
    wait_until(lambda: ledger.deliveries()[enforced.receiver]["attempts"] >= 4)
    shown = ledger.deliveries()[enforced.receiver]
    assert shown["status"] == "enabled"  # past LEDGER_OUTBOUND_MAX_ATTEMPTS, still retried
    assert shown["pending"] == 3 and shown["lag"] >= 3
    assert shown["last_error"] is not None and "503" in shown["last_error"]
    assert shown["kind"] == enforced.kind
    assert shown["connection"] == enforced.receiver.removeprefix("connection:")
    assert ledger.metric("ledger_outbound_failing", enforced.receiver) == 1.0
    assert (ledger.metric("ledger_outbound_lag", enforced.receiver) or 0) >= 3
    idp.down = False
    enforced.arrived(*(enforced.one("alice", sid) for sid in ("s-1", "s-2", "s-3")))
    ledger.start("bob", "b-1")
    ledger.admin_end("bob", "b-1")
    enforced.arrived(*(enforced.one("alice", s) for s in ("s-1", "s-2", "s-3")),
                     enforced.one("bob", "b-1"))  # fmt: skip
    wait_until(lambda: ledger.deliveries()[enforced.receiver]["pending"] == 0)
    assert ledger.deliveries()[enforced.receiver]["lag"] == 0
    assert ledger.metric("ledger_outbound_failing", enforced.receiver) == 0.0


@SENDING_ONLY
def test_a_404_counts_as_already_gone_and_is_not_retried(enforced: Enforced) -> None:
    ledger, idp = enforced.ledger, enforced.idp
    ledger.start("carol", "c-1")  # a user (and session) the IdP has never heard of
    ledger.start("bob", "b-1")
    ledger.reset_password("carol")
    ledger.admin_end("bob", "b-1")
    enforced.arrived(enforced.one("bob", "b-1"))
    gone = [c for c in idp.calls if c.status == 404]
    assert [f"{c.method} {c.path}" for c in gone] == [enforced.all("carol")]
    shown = ledger.deliveries()[enforced.receiver]
    assert shown["gone"] == 1 and shown["pending"] == 0 and shown["last_error"] is None
    assert ledger.metric("ledger_outbound_gone", enforced.receiver) == 1.0


@SENDING_ONLY
def test_a_token_the_idp_no_longer_accepts_is_replaced_by_a_fresh_one(
    enforced: Enforced,
) -> None:
    ledger, idp = enforced.ledger, enforced.idp
    ledger.start("alice", "s-1", "s-2", "s-3")
    ledger.admin_end("alice", "s-1")
    enforced.arrived(enforced.one("alice", "s-1"))
    idp.revoke_tokens()  # expired or revoked at the IdP before the ledger's clock says so
    ledger.admin_end("alice", "s-2")
    ledger.admin_end("alice", "s-3")
    enforced.arrived(*(enforced.one("alice", s) for s in ("s-1", "s-2", "s-3")))
    assert len(idp.token_requests) == 2  # one more after the 401, then cached again
    assert [c.status for c in idp.calls] == [204, 401, 204, 204]
    assert idp.calls[1].token == idp.calls[0].token != idp.calls[2].token


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """A WSO2 webhook body and its headers: `sha256=<hex HMAC-SHA256>` (section 1.2)."""
    body = json.dumps(payload).encode()
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}


def test_a_termination_from_the_connection_is_not_sent_back_to_it(
    enforcing: Callable[..., TestClient],
    wso2_idp: Wso2Server,
    keycloak_idp: KeycloakServer,
    secret_file: Path,
    clock: FakeClock,
    hs: Minter,
) -> None:
    revoked = fixture("wso2/session-revoked.json")  # WSO2's documented examples
    event = next(iter(revoked["events"].values()))
    user, session = event["user"]["id"], event["sessions"][0]["id"]
    clock.now = at_ms(revoked["iat"])
    toml = wso2_connection(wso2_idp, tenant="myorg") + keycloak_connection(
        keycloak_idp, secret_file=secret_file, tenant="myorg"
    )
    client = enforcing(toml)
    for idp in (wso2_idp, keycloak_idp):
        idp.sessions = {user: {session, "later"}}
    for payload in (fixture("wso2/session-established.json"), revoked):
        body, headers = signed(payload)
        response = client.post("/v1/inbound/asgardeo", content=body, headers=headers)
        assert response.status_code == 200, response.text
    ingest = hs.auth("idp", "sessions:ingest", tenant="myorg")
    start = {"session_id": "later", "user_id": user}
    assert client.post("/v1/sessions", json=start, headers=ingest).status_code == 201
    admin = hs.auth("admin-7", "sessions:terminate", tenant="myorg")
    response = client.delete(f"/v1/users/{user}/sessions/later", headers=admin)
    assert response.status_code == 204
    wait_until(lambda: len(wso2_idp.ended()) == 1 and len(keycloak_idp.ended()) == 2)
    wso2_sessions = f"DELETE /t/acme.example/api/users/v1/{user}/sessions"
    assert wso2_idp.ended() == [f"{wso2_sessions}/later"]  # its own revocation never echoed
    assert keycloak_idp.ended() == [
        f"DELETE /admin/realms/acme/sessions/{session}",  # from another connection: sent
        "DELETE /admin/realms/acme/sessions/later",
    ]
    assert wso2_idp.problems == keycloak_idp.problems == []
    shown = Ledger(client, hs).deliveries()
    assert "connection:asgardeo" not in shown  # operators see their own tenant only
    operator = hs.auth("operator", "sessions:audit", tenant="myorg")
    found = client.get("/v1/outbound/deliveries", headers=operator).json()["receivers"]
    assert {r["id"]: r["delivered"] for r in found} == {
        "connection:asgardeo": 1,
        "connection:keycloak": 2,
    }


@SENDING_ONLY
def test_idp_urls_pass_the_ssrf_guard_unless_private_networks_are_allowed(
    enforcing: Callable[..., TestClient], wso2_idp: Wso2Server, hs: Minter
) -> None:
    toml = wso2_connection(wso2_idp).replace("http://127.0.0.1", "https://127.0.0.1")
    client = enforcing(toml, outbound_allow_private_networks=False)
    ledger = Ledger(client, hs)
    ledger.start("alice", "s-1")
    ledger.admin_end("alice", "s-1")
    wait_until(lambda: ledger.deliveries()["connection:asgardeo"]["last_error"] is not None)
    error = ledger.deliveries()["connection:asgardeo"]["last_error"]
    assert "loopback" in error, error
    assert wso2_idp.calls == [] and wso2_idp.token_requests == []


def test_the_client_credentials_are_sent_as_rfc_6749_says(wso2_idp: Wso2Server) -> None:
    """The test IdP decodes Basic credentials form-encoded (RFC 6749 §2.3.1): a secret with
    spaces and symbols only matches when the ledger encoded it so."""
    from ledger.outbound.http import client as guarded
    from ledger.outbound.tokens import ClientCredentials

    with guarded(allow_private=True, timeout=5) as http:
        tokens = ClientCredentials(
            http, token_url=f"{wso2_idp.base_url}{wso2_idp.token_path}", client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET, scope="internal_session_delete",
        )  # fmt: skip
        assert tokens.token() in wso2_idp.issued


@SENDING_ONLY
def test_a_client_without_the_right_is_retried_until_it_is_granted(
    enforcing: Callable[..., TestClient],
    keycloak_idp: KeycloakServer,
    secret_file: Path,
    hs: Minter,
) -> None:
    client = enforcing(keycloak_connection(keycloak_idp, secret_file=secret_file))
    ledger = Ledger(client, hs)
    keycloak_idp.sessions = {"alice": {"s-1"}}
    keycloak_idp.manage_users = False  # the service account lacks realm-management/manage-users
    ledger.start("alice", "s-1")
    ledger.admin_end("alice", "s-1")
    wait_until(lambda: ledger.deliveries()["connection:keycloak"]["attempts"] >= 3)
    shown = ledger.deliveries()["connection:keycloak"]
    assert shown["last_error"] == "HTTP 403" and shown["pending"] == 1
    keycloak_idp.manage_users = True  # the operator grants it: the termination arrives
    wait_until(lambda: keycloak_idp.ended() == ["DELETE /admin/realms/acme/sessions/s-1"])
    assert keycloak_idp.sessions["alice"] == set()
