"""Back-channel logout per connection: the connection's keys, audience and tenant apply, on
`/v1/inbound/{name}` and on the legacy endpoint when the token's issuer is the connection's."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KeyPair, Minter
from tests.inbound.helpers import active, history, metric

OP = "https://op.example.test"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def connections(jwks_file: Path) -> str:
    return f"""
[[connection]]
name = "op"
kind = "oidc"
tenant = "globex"
issuer = "{OP}"
audience = "ledger-client"
jwks_file = "{jwks_file}"
"""


def logout_token(key: KeyPair, **claims: Any) -> str:
    """A logout token as OIDC Back-Channel Logout 1.0 §2.4 shows: no tenant claim."""
    now = int(time.time())
    values = {
        "iss": OP,
        "aud": "ledger-client",
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "events": {EVENT: {}},
        "sid": "s1",
        **claims,
    }
    values = {k: v for k, v in values.items() if v is not None}
    headers = {"kid": key.kid, "typ": "logout+jwt"}
    return jwt.encode(values, key.private, algorithm=key.alg, headers=headers)


@pytest.fixture
def op(connect: Callable[[str], TestClient], jwks_file: Path, hs: Minter) -> TestClient:
    client = connect(connections(jwks_file))
    ingest = hs.auth("idp", "sessions:ingest", tenant="globex")
    for sid in ("s1", "s2"):
        body = {"session_id": sid, "user_id": "carol"}
        assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    return client


@pytest.mark.parametrize("path", ["/v1/inbound/op", "/v1/oidc/backchannel-logout"])
def test_a_logout_token_ends_the_session_in_the_connections_tenant(
    op: TestClient, rsa_key: KeyPair, hs: Minter, path: str
) -> None:
    response = op.post(path, data={"logout_token": logout_token(rsa_key, jti="j-1")})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    ended = history(op, hs, "carol", "globex")["s1"]
    assert ended["termination_reason"] == "logout"
    assert ended["terminated_by"] == OP
    assert ended["termination_cause"] == "op:j-1"
    assert active(op, hs, "carol", "globex") == ["s2"]


def test_a_logout_token_with_only_sub_ends_all_the_users_sessions(
    op: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    token = logout_token(rsa_key, sid=None, sub="carol")
    assert op.post("/v1/inbound/op", data={"logout_token": token}).status_code == 200
    assert active(op, hs, "carol", "globex") == []


def test_a_replay_is_refused_across_both_endpoints(op: TestClient, rsa_key: KeyPair) -> None:
    token = logout_token(rsa_key)
    assert op.post("/v1/inbound/op", data={"logout_token": token}).status_code == 200
    again = op.post("/v1/oidc/backchannel-logout", data={"logout_token": token})
    assert again.status_code == 400
    assert "replayed" in again.json()["error_description"]
    assert metric(op, "op", "duplicate") == 1


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"aud": "another-client"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"nonce": "n"}, "nonce"),
        ({"events": {"x": {}}}, "events"),
    ],
)
def test_a_bad_logout_token_is_refused_and_ends_nothing(
    op: TestClient, rsa_key: KeyPair, hs: Minter, claims: dict[str, Any], words: str
) -> None:
    response = op.post("/v1/inbound/op", data={"logout_token": logout_token(rsa_key, **claims)})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert words in response.json()["error_description"]
    assert sorted(active(op, hs, "carol", "globex")) == ["s1", "s2"]


def test_a_token_of_another_key_is_refused(op: TestClient, stranger_key: KeyPair) -> None:
    response = op.post("/v1/inbound/op", data={"logout_token": logout_token(stranger_key)})
    assert response.status_code == 400
    assert metric(op, "op", "refused") == 1


def test_a_logout_that_matches_no_session_is_logged(
    op: TestClient, rsa_key: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ledger.inbound"):
        token = logout_token(rsa_key, sid="unknown", jti="j-none")
        assert op.post("/v1/inbound/op", data={"logout_token": token}).status_code == 200
    assert any(
        "j-none matched no session (tenant globex)" in r.getMessage() for r in caplog.records
    )
    assert metric(op, "op", "unmatched") == 1


def test_the_legacy_endpoint_keeps_its_settings_for_other_issuers(
    client: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    """Without a matching connection: LEDGER_* issuer and audience, tenant from the claim."""
    from tests.api.conftest import CLIENT_ID, ISSUER

    ingest = hs.auth("idp", "sessions:ingest")  # tenant acme
    body = {"session_id": "a1", "user_id": "alice"}
    assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    token = logout_token(rsa_key, iss=ISSUER, aud=CLIENT_ID, sid="a1", tenant="acme")
    response = client.post("/v1/oidc/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 200
    assert active(client, hs, "alice", "acme") == []
