"""Access tokens are what they say (RFC 8725 §3.11, RFC 9068 §2.1): a token typed
`logout+jwt` or `secevent+jwt`, or carrying `events`, is no access token; a token may not
live longer than `LEDGER_JWT_MAX_LIFETIME_S`; `/metrics` can require a scope."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter, ids, start
from tests.api.test_backchannel import logout_claims
from tests.security.conftest import assert_problem


@pytest.mark.parametrize("typ", ["logout+jwt", "secevent+jwt", "application/logout+jwt"])
def test_a_token_typed_as_something_else_is_no_access_token(
    client: TestClient, rs: Minter, typ: str
) -> None:
    start(client, rs.auth("idp", "sessions:ingest"), "a1")
    now = int(time.time())
    claims = {"sub": "alice", "scope": "sessions:me", "tenant": "acme", "exp": now + 60}
    claims |= {"iss": "https://idp.example.test", "aud": "session-ledger", "iat": now}
    token = rs.sign(claims, headers={"typ": typ})
    response = client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(response, 401, "unauthorized")["detail"] == "not an access token"
    assert ids(client.get("/v1/me/sessions", headers=rs.auth("alice"))) == ["a1"]


def test_a_logout_token_without_typ_is_no_access_token(client: TestClient, rs: Minter) -> None:
    claims = logout_claims(sub="alice") | {"exp": int(time.time()) + 60, "scope": "sessions:me"}
    claims |= {"iss": "https://idp.example.test", "aud": "session-ledger", "tenant": "acme"}
    token = rs.sign(claims)
    response = client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {token}"})
    assert assert_problem(response, 401, "unauthorized")["detail"] == "not an access token"


def test_a_token_living_longer_than_the_maximum_is_refused(client: TestClient, hs: Minter) -> None:
    now = int(time.time())
    year = hs.auth("alice", iat=now, exp=now + 365 * 86_400)
    body = assert_problem(client.get("/v1/me/sessions", headers=year), 401, "unauthorized")
    assert body["detail"] == "token lifetime exceeds the maximum"
    no_iat = hs.auth("alice", iat=None, exp=now + 2 * 86_400)
    assert_problem(client.get("/v1/me/sessions", headers=no_iat), 401, "unauthorized")
    assert client.get("/v1/me/sessions", headers=hs.auth("alice")).status_code == 200


def test_the_maximum_lifetime_is_a_setting(
    make_client: Callable[..., TestClient], hs: Minter
) -> None:
    client = make_client(jwt_max_lifetime_s=600)
    now = int(time.time())
    hour = hs.auth("alice", iat=now, exp=now + 3600)
    assert_problem(client.get("/v1/me/sessions", headers=hour), 401, "unauthorized")
    assert client.get("/v1/me/sessions", headers=hs.auth("alice")).status_code == 200  # 300 s


def test_metrics_can_require_a_scope(make_client: Callable[..., TestClient], hs: Minter) -> None:
    client = make_client(metrics_scope="ledger:metrics")
    assert_problem(client.get("/metrics"), 401, "unauthorized")
    denied = client.get("/metrics", headers=hs.auth("prometheus", "sessions:read"))
    assert_problem(denied, 403, "insufficient-scope")
    allowed = client.get("/metrics", headers=hs.auth("prometheus", "ledger:metrics"))
    assert allowed.status_code == 200
    assert "ledger_http_requests_total" in allowed.text


def test_metrics_stay_open_by_default(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200
