"""Keycloak `ext-event-webhook` deliveries, signed as p2-inc's sender signs (HMAC or bearer)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KeyPair, Minter
from tests.conftest import FakeClock
from tests.inbound.helpers import active, at_ms, fixture, history, metric

SECRET = "keycloak-webhook-secret-0123456789"
REALM_ISSUER = "https://keycloak.example.test/realms/neosync-stage"
PATH = "/v1/inbound/keycloak"
USER = "88251cc6-7408-4b31-a4c7-b2840d99b916"
SID = "3cd8d025-d5d4-4ff2-82d3-a9c552ba422c"
ADMIN = "a6c2d0f4-0b8e-4a6e-9d3c-2f7f1e3c9b10"


def connections(jwks_file: Path) -> str:
    return f"""
[[connection]]
name = "keycloak"
kind = "keycloak"
tenant = "neosync"
secret = "{SECRET}"
jwks_file = "{jwks_file}"
issuer = "{REALM_ISSUER}"
audience = "session-ledger"
"""


def event(type_: str, **changes: Any) -> dict[str, Any]:
    """The documented delivery as another event type (see fixtures/keycloak/README.md)."""
    payload = fixture("keycloak/register.json")
    payload.update({"type": type_, "uid": str(uuid.uuid4()), **changes})
    return payload


def deliver(client: TestClient, payload: dict[str, Any], **headers: str) -> Any:
    body = json.dumps(payload, separators=(",", ":")).encode()
    if not headers:
        headers = {"X-Keycloak-Signature": hmac.new(SECRET.encode(), body, "sha256").hexdigest()}
    return client.post(PATH, content=body, headers={"Content-Type": "application/json", **headers})


def bearer(key: KeyPair, body: bytes, **claims: Any) -> str:
    """As p2-inc's WebhookJwtSigner: realm-signed, 300 s, bound to the body's SHA-256."""
    now = int(time.time())
    values = {
        "jti": str(uuid.uuid4()),
        "iss": REALM_ISSUER,
        "aud": "session-ledger",
        "iat": now,
        "exp": now + 300,
        "request_body_sha256": hashlib.sha256(body).hexdigest(),
        **claims,
    }
    token = jwt.encode(values, key.private, algorithm="RS256", headers={"kid": key.kid})
    return f"Bearer {token}"


@pytest.fixture
def keycloak(connect: Callable[[str], TestClient], clock: FakeClock, jwks_file: Path) -> TestClient:
    clock.now = at_ms(1711651627565)
    return connect(connections(jwks_file))


@pytest.fixture
def logged_in(keycloak: TestClient) -> TestClient:
    assert deliver(keycloak, event("access.LOGIN")).status_code == 200
    return keycloak


def test_a_login_starts_the_session_with_its_client(logged_in: TestClient, hs: Minter) -> None:
    session = history(logged_in, hs, USER, "neosync")[SID]
    assert session["status"] == "active"
    assert session["ip"] == "111.11.111.11"
    assert session["applications"] == [{"id": "neosync-app", "name": "neosync-app"}]


def test_a_second_login_into_another_client_is_sso_into_the_session(
    logged_in: TestClient, hs: Minter
) -> None:
    later = event("access.LOGIN", time=1711651687565)
    later["authDetails"]["clientId"] = "neosync-docs"
    assert deliver(logged_in, later).status_code == 200
    apps = history(logged_in, hs, USER, "neosync")[SID]["applications"]
    assert [a["id"] for a in apps] == ["neosync-app", "neosync-docs"]


def test_a_logout_ends_the_session_by_the_user(logged_in: TestClient, hs: Minter) -> None:
    logout = event("access.LOGOUT")
    assert deliver(logged_in, logout).status_code == 200
    ended = history(logged_in, hs, USER, "neosync")[SID]
    assert ended["termination_reason"] == "logout"
    assert ended["terminated_by"] == USER
    assert ended["termination_cause"] == f"keycloak:{logout['uid']}"


def test_an_admin_session_delete_ends_it_by_the_admin(logged_in: TestClient, hs: Minter) -> None:
    deleted = fixture("keycloak/admin-session-delete.json")
    assert deliver(logged_in, deleted).status_code == 200
    ended = history(logged_in, hs, USER, "neosync")[SID]
    assert (ended["termination_reason"], ended["terminated_by"]) == ("admin_terminated", ADMIN)


@pytest.mark.parametrize(
    ("changes", "reason", "actor"),
    [
        ({"type": "access.UPDATE_PASSWORD"}, "password_reset", USER),
        ({"type": "access.RESET_PASSWORD"}, "password_reset", USER),
        (
            {"type": "access.USER_DISABLED_BY_PERMANENT_LOCKOUT"},
            "account_locked",
            "keycloak:system",
        ),
        (
            {"type": "access.USER_DISABLED_BY_TEMPORARY_LOCKOUT"},
            "account_locked",
            "keycloak:system",
        ),
        ({"type": "access.DELETE_ACCOUNT"}, "account_deleted", USER),
        (
            {"type": "access.USER_SESSION_DELETED", "details": {"reason": "expired"}},
            "idle_timeout",
            "system",
        ),
        ({"type": "access.USER_SESSION_DELETED", "details": {}}, "admin_terminated", USER),
        (
            {
                "type": "admin.USER-ACTION",
                "resourceType": "USER",
                "operationType": "ACTION",
                "resourcePath": f"users/{USER}/logout",
            },
            "admin_terminated",
            ADMIN,
        ),
        (
            {
                "type": "admin.USER-DELETE",
                "resourceType": "USER",
                "operationType": "DELETE",
                "resourcePath": f"users/{USER}",
            },
            "account_deleted",
            ADMIN,
        ),
        (
            {
                "type": "admin.USER-UPDATE",
                "resourceType": "USER",
                "operationType": "UPDATE",
                "resourcePath": f"users/{USER}",
                "representation": '{"id":"x","enabled":false}',
            },
            "account_disabled",
            ADMIN,
        ),
    ],
)
def test_account_events_end_the_users_sessions_with_the_matching_reason(
    logged_in: TestClient, hs: Minter, changes: dict[str, Any], reason: str, actor: str
) -> None:
    changes = dict(changes)  # the parameter is shared by the backends' runs
    # Password events keep the session they happened in: end the test session from another.
    if changes["type"] in ("access.UPDATE_PASSWORD", "access.RESET_PASSWORD"):
        changes = {**changes, "authDetails": {**event("x")["authDetails"], "sessionId": "other"}}
    if changes["type"].startswith("admin."):
        changes = {**changes, "authDetails": {"realmId": "master", "userId": ADMIN}}
    assert deliver(logged_in, event(changes.pop("type"), **changes)).status_code == 200
    ended = history(logged_in, hs, USER, "neosync")[SID]
    assert (ended["termination_reason"], ended["terminated_by"]) == (reason, actor)
    assert ended["termination_cause"].startswith("keycloak:")


def test_a_realm_signed_bearer_token_bound_to_the_body_is_accepted(
    keycloak: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    body = json.dumps(event("access.LOGIN")).encode()
    response = keycloak.post(
        PATH,
        content=body,
        headers={"Content-Type": "application/json", "Authorization": bearer(rsa_key, body)},
    )
    assert response.status_code == 200
    assert active(keycloak, hs, USER, "neosync") == [SID]


@pytest.mark.parametrize(
    "make",
    [
        lambda key, stranger, body: bearer(key, b"another body"),
        lambda key, stranger, body: bearer(stranger, body),
        lambda key, stranger, body: bearer(key, body, iss="https://evil.example/realms/x"),
        lambda key, stranger, body: bearer(key, body, aud="someone-else"),
        lambda key, stranger, body: bearer(key, body, exp=int(time.time()) - 3600),
    ],
    ids=["body", "key", "issuer", "audience", "expired"],
)
def test_a_bad_bearer_token_is_refused_and_records_nothing(
    keycloak: TestClient,
    rsa_key: KeyPair,
    stranger_key: KeyPair,
    hs: Minter,
    make: Callable[[KeyPair, KeyPair, bytes], str],
) -> None:
    body = json.dumps(event("access.LOGIN")).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": make(rsa_key, stranger_key, body),
    }
    assert keycloak.post(PATH, content=body, headers=headers).status_code == 401
    assert history(keycloak, hs, USER, "neosync") == {}


@pytest.mark.parametrize("signature", [None, "0" * 64, "sha256=" + "0" * 64])
def test_a_wrong_or_missing_signature_is_refused(
    keycloak: TestClient, hs: Minter, signature: str | None
) -> None:
    headers = {"X-Keycloak-Signature": signature} if signature else {"X-Other": "1"}
    assert deliver(keycloak, event("access.LOGIN"), **headers).status_code == 401
    assert history(keycloak, hs, USER, "neosync") == {}
    assert metric(keycloak, "keycloak", "refused") == 1


def test_a_retried_delivery_records_nothing_more(logged_in: TestClient, hs: Minter) -> None:
    logout = event("access.LOGOUT")
    assert deliver(logged_in, logout).status_code == 200
    again = copy.deepcopy(logout)
    again["type"] = "access.DELETE_ACCOUNT"  # same uid: a replay, whatever it now says
    assert deliver(logged_in, again).status_code == 200
    assert history(logged_in, hs, USER, "neosync")[SID]["termination_reason"] == "logout"
    assert metric(logged_in, "keycloak", "duplicate") == 1


def test_unused_and_failed_events_are_acknowledged_and_counted(
    keycloak: TestClient, hs: Minter
) -> None:
    assert deliver(keycloak, fixture("keycloak/register.json")).status_code == 200
    assert (
        deliver(keycloak, event("access.LOGIN_ERROR", error="invalid_user_credentials")).status_code
        == 200
    )
    assert deliver(keycloak, event("system.SOMETHING")).status_code == 200
    assert metric(keycloak, "keycloak", "ignored") == 3
    assert history(keycloak, hs, USER, "neosync") == {}


@pytest.mark.parametrize("body", [{"type": "access.LOGIN"}, {"uid": "u", "time": "yesterday"}])
def test_a_malformed_event_is_a_400(keycloak: TestClient, body: dict[str, Any]) -> None:
    assert deliver(keycloak, body).status_code == 400


def test_a_logout_of_an_unknown_session_is_counted_unmatched(keycloak: TestClient) -> None:
    assert deliver(keycloak, event("access.LOGOUT")).status_code == 200
    assert metric(keycloak, "keycloak", "unmatched") == 1
