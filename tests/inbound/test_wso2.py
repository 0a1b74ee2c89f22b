"""Asgardeo / WSO2 Identity Server webhooks: WSO2's documented payloads, signed as WSO2 signs."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter
from tests.conftest import FakeClock
from tests.inbound.helpers import active, at_ms, fixture, history, metric

SECRET = "asgardeo-webhook-secret-0123456789"
PATH = "/v1/inbound/asgardeo"
CONNECTIONS = f"""
[[connection]]
name = "asgardeo"
kind = "wso2"
tenant = "myorg"
secret = "{SECRET}"
issuer = "https://api.asgardeo.io/t/myorg"
"""
BASE = "https://schemas.identity.wso2.org/events/"
USER = "1801d35e-1339-4c16-9c53-61321cf37fb9"
SESSION = "68d1f2861461c69d8e821d91839bbf8e23ef04fb96c1ac655f452d94d1fd6e4d"


def sign(body: bytes, secret: str = SECRET) -> str:
    """As identity-event-publishers' ClientManager: "sha256=" + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    client: TestClient, payload: dict[str, Any], *, header: str = "X-Hub-Signature", **kw: Any
) -> Any:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", header: kw.get("signature") or sign(body)}
    return client.post(PATH, content=body, headers=headers)


def event(payload: dict[str, Any]) -> dict[str, Any]:
    """The single event object of an envelope."""
    return next(iter(payload["events"].values()))


@pytest.fixture
def asgardeo(connect: Callable[[str], TestClient], clock: FakeClock) -> TestClient:
    clock.now = at_ms(1755541966644)  # the documented examples' moment
    return connect(CONNECTIONS)


@pytest.fixture
def established(asgardeo: TestClient) -> TestClient:
    assert deliver(asgardeo, fixture("wso2/session-established.json")).status_code == 200
    return asgardeo


def test_the_websub_subscription_check_is_answered_with_the_challenge(asgardeo: TestClient) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.topic": "myorg.dcbd6baa.schema.wso2.v1.event.session",
        "hub.challenge": "c-123",
        "hub.lease_seconds": "864000",
    }
    response = asgardeo.get(PATH, params=query)
    assert response.status_code == 200
    assert response.text == "c-123"
    assert response.headers["content-type"].startswith("text/plain")
    assert asgardeo.get(PATH, params={"hub.mode": "subscribe"}).status_code == 400


def test_session_established_starts_the_session_in_the_connections_tenant(
    established: TestClient, hs: Minter
) -> None:
    session = history(established, hs, USER, "myorg")[SESSION]
    assert session["status"] == "active"
    assert session["started_at"] == "2025-08-18T18:32:40.025000Z"
    assert session["applications"] == [
        {"id": "eb395ddd-1280-46e9-98fb-810948c1dab4", "name": "Test App"}
    ]
    assert history(established, hs, USER, "default") == {}


def test_session_presented_records_activity_and_sso(established: TestClient, hs: Minter) -> None:
    presented = fixture("wso2/session-presented.json")
    event(presented)["application"] = {"id": "app-2", "name": "Second App"}  # modified: SSO
    assert deliver(established, presented).status_code == 200
    apps = history(established, hs, USER, "myorg")[SESSION]["applications"]
    assert [a["id"] for a in apps] == ["eb395ddd-1280-46e9-98fb-810948c1dab4", "app-2"]


def test_session_revoked_without_action_is_a_logout_by_the_user(
    established: TestClient, hs: Minter
) -> None:
    assert deliver(established, fixture("wso2/session-revoked.json")).status_code == 200
    ended = history(established, hs, USER, "myorg")[SESSION]
    assert ended["termination_reason"] == "logout"
    assert ended["terminated_by"] == USER
    assert ended["termination_cause"] == "asgardeo:61503199-bdf7-4f44-8f50-60c78bf419ad"
    assert active(established, hs, USER, "myorg") == []


@pytest.mark.parametrize(
    ("action", "initiator", "reason", "actor"),
    [
        ("SESSION_REVOKE", "ADMIN", "admin_terminated", "asgardeo:admin"),
        ("SESSION_REVOKE", "USER", "user_terminated", USER),
        ("LOGOUT", "APPLICATION", "logout", "asgardeo:application"),
        ("USER_ACCOUNT_LOCK", "SYSTEM", "account_locked", "asgardeo:system"),
        ("USER_ACCOUNT_DISABLE", "ADMIN", "account_disabled", "asgardeo:admin"),
        ("USER_ACCOUNT_DELETE", "ADMIN", "account_deleted", "asgardeo:admin"),
        ("CREDENTIAL_RESET", "USER", "password_reset", USER),
        (None, "ADMIN", "admin_terminated", "asgardeo:admin"),
    ],
)
def test_action_and_initiator_decide_the_reason_and_actor(
    established: TestClient,
    hs: Minter,
    action: str | None,
    initiator: str,
    reason: str,
    actor: str,
) -> None:
    revoked = fixture("wso2/session-revoked.json")
    event(revoked).update({"initiatorType": initiator, "action": action})  # modified
    assert deliver(established, revoked).status_code == 200
    ended = history(established, hs, USER, "myorg")[SESSION]
    assert (ended["termination_reason"], ended["terminated_by"]) == (reason, actor)


def test_identity_servers_signature_header_is_accepted(asgardeo: TestClient, hs: Minter) -> None:
    payload = fixture("wso2/session-established.json")
    assert deliver(asgardeo, payload, header="x-wso2-event-signature").status_code == 200
    assert active(asgardeo, hs, USER, "myorg") == [SESSION]


@pytest.mark.parametrize(
    "signature",
    ["sha256=" + "0" * 64, "sha1=abc", sign(b"other body"), sign(b"{}", "another-secret-xxxxxxxx")],
)
def test_a_wrong_signature_is_refused_and_records_nothing(
    asgardeo: TestClient, hs: Minter, signature: str
) -> None:
    response = deliver(asgardeo, fixture("wso2/session-established.json"), signature=signature)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert history(asgardeo, hs, USER, "myorg") == {}
    assert metric(asgardeo, "asgardeo", "refused") == 1


def test_a_missing_signature_is_refused(asgardeo: TestClient, hs: Minter) -> None:
    body = json.dumps(fixture("wso2/session-established.json")).encode()
    response = asgardeo.post(PATH, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert history(asgardeo, hs, USER, "myorg") == {}


def test_another_issuer_is_refused(asgardeo: TestClient, hs: Minter) -> None:
    payload = fixture("wso2/session-established.json")
    payload["iss"] = "https://api.asgardeo.io/t/otherorg"  # modified
    assert deliver(asgardeo, payload).status_code == 401
    assert history(asgardeo, hs, USER, "myorg") == {}


def test_a_replayed_delivery_is_acknowledged_and_records_nothing(
    established: TestClient, hs: Minter, clock: FakeClock
) -> None:
    revoked = fixture("wso2/session-revoked.json")
    assert deliver(established, revoked).status_code == 200
    # The same jti again, now claiming an admin revocation: seen before, so nothing changes.
    replay = copy.deepcopy(revoked)
    event(replay).update({"initiatorType": "ADMIN", "action": "SESSION_REVOKE"})
    assert deliver(established, replay).status_code == 200
    assert history(established, hs, USER, "myorg")[SESSION]["termination_reason"] == "logout"
    assert metric(established, "asgardeo", "duplicate") == 1


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"iss": "https://api.asgardeo.io/t/myorg"}', b'{"jti": 1}'],
)
def test_a_malformed_signed_body_is_a_400(asgardeo: TestClient, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature": sign(body)}
    response = asgardeo.post(PATH, content=body, headers=headers)
    assert response.status_code == 400
    assert metric(asgardeo, "asgardeo", "malformed") == 1


def test_a_revocation_without_sessions_list_is_a_400(established: TestClient, hs: Minter) -> None:
    revoked = fixture("wso2/session-revoked.json")
    event(revoked)["sessions"] = "all"  # modified
    assert deliver(established, revoked).status_code == 400
    assert active(established, hs, USER, "myorg") == [SESSION]


def test_an_unused_event_type_is_acknowledged_and_counted(asgardeo: TestClient) -> None:
    assert deliver(asgardeo, fixture("wso2/login-success.json")).status_code == 200
    assert metric(asgardeo, "asgardeo", "ignored") == 1


@pytest.mark.parametrize(
    ("action", "ends"),
    [("RESET", True), ("CREDENTIAL_RESET", True), ("UPDATE", False), ("INVITE", False)],
)
def test_a_password_reset_ends_the_users_sessions(
    asgardeo: TestClient, hs: Minter, action: str, ends: bool
) -> None:
    started = fixture("wso2/session-established.json")
    user = "85071750-3d1f-4ba4-b58f-991532e2742b"  # the credential example's user
    event(started)["user"]["id"] = user  # modified
    assert deliver(asgardeo, started).status_code == 200
    updated = fixture("wso2/credential-updated.json")
    event(updated)["action"] = action  # the documented and the source's spellings
    assert deliver(asgardeo, updated).status_code == 200
    session = history(asgardeo, hs, user, "myorg")[SESSION]
    if ends:
        assert session["termination_reason"] == "password_reset"
        assert session["terminated_by"] == "asgardeo:admin"
        assert session["termination_cause"] == "asgardeo:24fc890a-41c5-4397-9cc9-b9f48102384e"
    else:
        assert session["status"] == "active"


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("userAccountLocked", "account_locked"),
        ("userDisabled", "account_disabled"),
        ("userDeleted", "account_deleted"),
    ],
)
def test_account_events_end_the_users_sessions(
    established: TestClient, hs: Minter, event_type: str, reason: str
) -> None:
    revoked = fixture("wso2/session-revoked.json")
    payload = event(revoked)
    del payload["sessions"]
    if event_type != "userAccountLocked":
        payload.update({"initiatorType": "ADMIN", "initiatorIpAddress": "203.0.113.10"})
    revoked["events"] = {f"{BASE}user/event-type/{event_type}": payload}  # modified: per WSO2-DOC
    revoked["jti"] = f"jti-{event_type}"
    assert deliver(established, revoked).status_code == 200
    ended = history(established, hs, USER, "myorg")[SESSION]
    assert ended["termination_reason"] == reason
    assert ended["termination_cause"] == f"asgardeo:jti-{event_type}"


def test_a_presented_session_the_ledger_missed_starts(asgardeo: TestClient, hs: Minter) -> None:
    assert deliver(asgardeo, fixture("wso2/session-presented.json")).status_code == 200
    assert active(asgardeo, hs, USER, "myorg") == [SESSION]
