"""Back-channel logout: logout tokens end sessions; replays, nonces, bad audiences refused."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import CLIENT_ID, ISSUER, KeyPair, Minter, ids, start

EVENT = "http://schemas.openid.net/event/backchannel-logout"
PATH = "/v1/oidc/backchannel-logout"


def logout_claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
        "tenant": "acme",
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def logout_token(key: KeyPair, headers: dict[str, Any] | None = None, **extra: Any) -> str:
    return jwt.encode(
        logout_claims(**extra),
        key.private,
        algorithm=key.alg,
        headers={"kid": key.kid, "typ": "logout+jwt", **(headers or {})},
    )


def post(client: TestClient, token: str) -> Any:
    return client.post(PATH, data={"logout_token": token})


def refused(response: Any, words: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_request"
    assert words in body["error_description"]


@pytest.fixture
def sessions(client: TestClient, hs: Minter) -> dict[str, str]:
    """alice has a1 and a2, bob has b1 (tenant acme)."""
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    start(client, ingest, "b1", user_id="bob")
    return hs.auth("root", "sessions:read sessions:audit")


def test_a_logout_token_with_sid_ends_that_session_with_its_jti_as_cause(
    client: TestClient, rsa_key: KeyPair, sessions: dict[str, str]
) -> None:
    response = post(client, logout_token(rsa_key, sid="a1", sub="alice", jti="jti-1"))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert ids(client.get("/v1/users/alice/sessions", headers=sessions)) == ["a2"]
    history = client.get("/v1/users/alice/sessions/history", headers=sessions).json()
    ended = next(s for s in history["sessions"] if s["id"] == "a1")
    assert ended["termination_reason"] == "logout"
    assert ended["termination_cause"] == "backchannel:jti-1"
    assert ended["terminated_by"] == ISSUER


def test_a_logout_token_with_only_sub_ends_all_the_users_sessions(
    client: TestClient, ec_key: KeyPair, sessions: dict[str, str]
) -> None:
    assert post(client, logout_token(ec_key, sub="alice", jti="jti-2")).status_code == 200
    assert ids(client.get("/v1/users/alice/sessions", headers=sessions)) == []
    assert ids(client.get("/v1/users/bob/sessions", headers=sessions)) == ["b1"]
    history = client.get("/v1/users/alice/sessions/history", headers=sessions).json()
    assert {s["termination_cause"] for s in history["sessions"]} == {"backchannel:jti-2"}


def test_an_unknown_sid_or_a_sid_of_another_sub_is_accepted_and_changes_nothing(
    client: TestClient, rsa_key: KeyPair, sessions: dict[str, str]
) -> None:
    assert post(client, logout_token(rsa_key, sid="nope")).status_code == 200
    assert post(client, logout_token(rsa_key, sid="b1", sub="alice")).status_code == 200
    assert ids(client.get("/v1/users/bob/sessions", headers=sessions)) == ["b1"]


def test_a_replayed_logout_token_is_refused(
    client: TestClient, rsa_key: KeyPair, sessions: dict[str, str]
) -> None:
    token = logout_token(rsa_key, sid="a1")
    assert post(client, token).status_code == 200
    refused(post(client, token), "replayed")


def test_a_replay_is_refused_by_another_app_on_the_same_database(
    client: TestClient, make_client: Callable[..., TestClient], rsa_key: KeyPair
) -> None:
    token = logout_token(rsa_key, sid="a1")
    assert post(client, token).status_code == 200
    refused(post(make_client(), token), "replayed")


def test_a_logout_token_with_a_nonce_is_refused(client: TestClient, rsa_key: KeyPair) -> None:
    refused(post(client, logout_token(rsa_key, sid="a1", nonce="n-1")), "nonce")


def test_a_logout_token_for_another_audience_is_refused(
    client: TestClient, rsa_key: KeyPair
) -> None:
    refused(post(client, logout_token(rsa_key, sid="a1", aud="other-rp")), "audience")


def test_a_refused_token_leaves_its_jti_unspent(
    client: TestClient, rsa_key: KeyPair, sessions: dict[str, str]
) -> None:
    refused(post(client, logout_token(rsa_key, sid="a1", jti="j", aud="x")), "audience")
    assert post(client, logout_token(rsa_key, sid="a1", jti="j")).status_code == 200


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"events": None}, "events"),
        ({"events": {"http://example.com/other": {}}}, "events"),
        ({"events": {EVENT: "yes"}}, "events"),
        ({"sid": None, "sub": None}, "sid or sub"),
        ({"jti": None}, "jti"),
        ({"iat": None}, "iat"),
        ({"iat": int(time.time()) - 3600, "exp": None}, "issued more than"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"sid": "x" * 300}, "longer than"),
    ],
)
def test_malformed_logout_tokens_are_refused(
    client: TestClient, rsa_key: KeyPair, claims: dict[str, Any], words: str
) -> None:
    refused(post(client, logout_token(rsa_key, **({"sid": "a1"} | claims))), words)


def test_tokens_not_signed_by_the_idp_keys_are_refused(
    client: TestClient, stranger_key: KeyPair, hs: Minter
) -> None:
    refused(post(client, logout_token(stranger_key, sid="a1")), "signature")
    refused(post(client, hs.sign(logout_claims(sid="a1"))), "algorithm")
    refused(post(client, "not-a-token"), "malformed")
    refused(post(client, logout_token(stranger_key, headers={"typ": "at+jwt"}, sid="a1")), "typ")


def test_a_request_without_a_logout_token_is_refused(client: TestClient) -> None:
    refused(client.post(PATH, data={}), "missing logout_token")
    refused(client.post(PATH, json={"logout_token": "x"}), "missing logout_token")


def test_without_a_jwks_back_channel_logout_is_refused(
    make_client: Callable[..., TestClient], rsa_key: KeyPair
) -> None:
    client = make_client(jwks_file=None)
    refused(post(client, logout_token(rsa_key, sid="a1")), "not configured")


def test_a_malformed_multipart_body_is_refused_per_the_spec(client: TestClient) -> None:
    response = client.post(
        PATH, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    refused(response, "")
