"""Bad tokens are 401, missing scopes 403; others' sessions answer like missing ones."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from tests.api.conftest import ALL_SCOPES, AUDIENCE, ISSUER, KeyPair, Minter, ids, start


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token built by hand: HS256 with any bytes as the key, or unsigned."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "alice", "scope": ALL_SCOPES, "tenant": "acme", "iss": ISSUER}
    return base | {"aud": AUDIENCE, "iat": now, "exp": now + 300} | extra


def refused(client: TestClient, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.get("/v1/me/sessions", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body: dict[str, Any] = response.json()
    return body


def test_a_request_without_a_token_is_401(client: TestClient) -> None:
    assert refused(client, None)["status"] == 401
    basic = client.get("/v1/me/sessions", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "", "x" * 5000])
def test_a_garbage_token_is_401(client: TestClient, token: str) -> None:
    refused(client, token)


def test_an_expired_token_is_401(client: TestClient, minter: Minter) -> None:
    gone = int(time.time()) - 3600
    assert "expired" in refused(client, minter.token(iat=gone - 60, exp=gone))["detail"]


def test_a_token_without_exp_is_401(client: TestClient, minter: Minter) -> None:
    refused(client, minter.token(exp=None))


def test_a_token_signed_with_another_key_is_401(client: TestClient, stranger_key: KeyPair) -> None:
    refused(client, jwt.encode(claims(), "another-secret-" + "z" * 40, algorithm="HS256"))
    refused(client, Minter(stranger_key).token())


def test_a_token_for_another_audience_or_issuer_is_401(client: TestClient, minter: Minter) -> None:
    refused(client, minter.token(aud="someone-else"))
    refused(client, minter.token(aud=None))
    refused(client, minter.token(iss="https://evil.example"))
    refused(client, minter.token(iss=None))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_an_unsigned_alg_none_token_is_401(client: TestClient, alg: str) -> None:
    refused(client, forge({"alg": alg, "typ": "JWT"}, claims(), None))
    refused(client, forge({"alg": alg, "typ": "JWT", "kid": "rsa-1"}, claims(), None))


def rsa_public_pem(key: KeyPair) -> bytes:
    return key.private.public_key().public_bytes(  # type: ignore[no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_hs256_signed_with_the_rsa_public_key_is_401(client: TestClient, rsa_key: KeyPair) -> None:
    pem = rsa_public_pem(rsa_key)
    refused(client, forge({"alg": "HS256", "kid": "rsa-1"}, claims(), pem))
    refused(client, forge({"alg": "HS256"}, claims(), pem))
    jwk_json = json.dumps(rsa_key.jwk).encode()
    refused(client, forge({"alg": "HS256", "kid": "rsa-1"}, claims(), jwk_json))


def test_with_only_a_jwks_no_hs256_token_is_accepted(
    make_client: Callable[..., TestClient], rsa_key: KeyPair, hs: Minter, rs: Minter
) -> None:
    client = make_client(jwt_secret=None)
    refused(client, forge({"alg": "HS256", "kid": "rsa-1"}, claims(), rsa_public_pem(rsa_key)))
    refused(client, hs.token())
    assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200


def test_an_es256_token_is_accepted_and_its_alg_must_match_the_key(
    client: TestClient, ec_key: KeyPair, rsa_key: KeyPair
) -> None:
    es = Minter(ec_key)
    assert client.get("/v1/me/sessions", headers=es.auth()).status_code == 200
    mislabelled = jwt.encode(claims(), ec_key.private, algorithm="ES256", headers={"kid": "rsa-1"})
    refused(client, mislabelled)
    ps = jwt.encode(claims(), rsa_key.private, algorithm="PS256", headers={"kid": "rsa-1"})
    refused(client, ps)


def test_a_token_naming_an_unknown_key_is_401(client: TestClient, rsa_key: KeyPair) -> None:
    token = jwt.encode(claims(), rsa_key.private, algorithm="RS256", headers={"kid": "other"})
    refused(client, token)


@pytest.mark.parametrize("bad", [{"sub": ""}, {"sub": 7}, {"sub": "x" * 300}, {"tenant": "a/b"}])
def test_a_token_with_unusable_claims_is_401(
    client: TestClient, minter: Minter, bad: dict[str, Any]
) -> None:
    refused(client, minter.token(**bad))


ROWS = [
    ("GET", "/v1/me/sessions", "sessions:me"),
    ("DELETE", "/v1/me/sessions/s1", "sessions:me"),
    ("DELETE", "/v1/me/sessions", "sessions:me"),
    ("GET", "/v1/users/alice/sessions", "sessions:read"),
    ("DELETE", "/v1/users/alice/sessions/s1", "sessions:terminate"),
    ("DELETE", "/v1/users/alice/sessions", "sessions:terminate"),
    ("GET", "/v1/sessions", "sessions:read"),
    ("GET", "/v1/users/alice/sessions/history", "sessions:audit"),
    ("POST", "/v1/sessions", "sessions:ingest"),
    ("POST", "/v1/sessions/s1/activity", "sessions:ingest"),
    ("POST", "/v1/sessions/s1/terminate", "sessions:ingest"),
    ("POST", "/v1/users/alice/password-reset", "sessions:ingest"),
    ("POST", "/v1/users/alice/revoke", "sessions:ingest"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROWS)
def test_each_endpoint_needs_its_own_scope(
    client: TestClient, hs: Minter, method: str, path: str, scope: str
) -> None:
    others = " ".join(s for s in ALL_SCOPES.split() if s != scope)
    response = client.request(method, path, headers=hs.auth("alice", others), json={})
    assert response.status_code == 403
    assert response.json()["type"].endswith("insufficient-scope")
    assert f'scope="{scope}"' in response.headers["www-authenticate"]
    assert client.request(method, path, json={}).status_code == 401


def test_an_admin_of_another_tenant_sees_nothing_and_ends_nothing(
    client: TestClient, minter: Minter
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "a1")
    globex = minter.auth("root", ALL_SCOPES, tenant="globex")
    assert ids(client.get("/v1/users/alice/sessions", headers=globex)) == []
    assert ids(client.get("/v1/sessions", headers=globex)) == []
    assert ids(client.get("/v1/users/alice/sessions/history", headers=globex)) == []
    theirs = client.delete("/v1/users/alice/sessions/a1", headers=globex)
    missing = client.delete("/v1/users/alice/sessions/zz", headers=globex)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["title"] == missing.json()["title"]
    assert client.delete("/v1/users/alice/sessions", headers=globex).json() == {"terminated": []}
    assert (
        client.delete(
            "/v1/me/sessions/a1", headers=minter.auth("alice", tenant="globex")
        ).status_code
        == 404
    )
    assert client.post("/v1/sessions/a1/activity", json={}, headers=globex).status_code == 404
    terminate = client.post("/v1/sessions/a1/terminate", json={"reason": "logout"}, headers=globex)
    assert terminate.status_code == 404
    acme = minter.auth("root", "sessions:read")
    assert ids(client.get("/v1/users/alice/sessions", headers=acme)) == ["a1"]


def test_the_tenant_defaults_to_default_and_follows_the_configured_claim(
    make_client: Callable[..., TestClient], hs: Minter
) -> None:
    client = make_client(tenant_claim="org")
    ingest = hs.auth("idp", "sessions:ingest", tenant=None, org="initech")
    session = start(client, ingest, "s1")
    assert session["tenant"] == "initech"
    untenanted = start(client, hs.auth("idp", "sessions:ingest", tenant=None), "s2")
    assert untenanted["tenant"] == "default"
    in_tenant = client.get("/v1/me/sessions", headers=hs.auth("alice", org="initech"))
    assert ids(in_tenant) == ["s1"]
