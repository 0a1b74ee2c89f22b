"""Problem details are short and fixed: they never carry the upstream JWKS error, PyJWT's
exception class names, or which kinds of keys are configured (OWASP ASVS V7.4.1)."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
from fastapi.testclient import TestClient

from tests.api.conftest import SECRET, KeyPair, Minter
from tests.security.conftest import JwksServer, assert_problem


def test_an_unreachable_jwks_url_is_a_fixed_503_detail(
    make_client: Callable[..., TestClient], rs: Minter
) -> None:
    url = "http://127.0.0.1:9/jwks.json"
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=url)
    response = client.get("/v1/me/sessions", headers=rs.auth())
    body = assert_problem(response, 503, "unavailable")
    assert body["detail"] == "signing keys unavailable; retry later"
    assert "127.0.0.1" not in response.text and "rror" not in response.text


def test_a_failing_jwks_url_answers_the_same_whatever_the_upstream_said(
    make_client: Callable[..., TestClient], jwks_server: JwksServer, rs: Minter
) -> None:
    jwks_server.status = 502
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=jwks_server.url)
    body = assert_problem(client.get("/v1/me/sessions", headers=rs.auth()), 503, "unavailable")
    assert body["detail"] == "signing keys unavailable; retry later"


def test_refused_tokens_name_no_library_exception(client: TestClient) -> None:
    now = int(time.time())
    claims = {"sub": "alice", "scope": "sessions:me", "exp": now + 60, "iat": "yesterday"}
    claims |= {"iss": "https://idp.example.test", "aud": "session-ledger"}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {token}"})
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "invalid token"
    assert "Error" not in response.text


def test_the_detail_does_not_tell_which_kinds_of_keys_are_configured(
    make_client: Callable[..., TestClient], rsa_key: KeyPair
) -> None:
    """HS256 against a JWKS-only ledger, and an algorithm no key has, answer alike."""
    client = make_client(jwt_secret=None)
    hs_token = Minter(None).auth()
    rs512 = Minter(KeyPair("rsa-1", "RS512", rsa_key.private, rsa_key.jwk)).auth()
    details = set()
    for headers in (hs_token, rs512):
        response = client.get("/v1/me/sessions", headers=headers)
        details.add(assert_problem(response, 401, "unauthorized")["detail"])
        assert "HS256" not in response.text and "RS512" not in response.text
        assert "rsa-1" not in response.text
    assert details == {"algorithm not accepted"}
