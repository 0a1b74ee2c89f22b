"""API answers hold addresses and devices: every `/v1` and `/web` response, errors included,
carries `Cache-Control: no-store` (RFC 9111 §5.2.2.5) and `X-Content-Type-Options: nosniff`."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Minter, start


def assert_protected(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_api_answers_and_problems_are_never_cached_nor_sniffed(
    client: TestClient, hs: Minter
) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1", ip="203.0.113.7")
    listed = client.get("/v1/me/sessions", headers=hs.auth("alice"))
    assert listed.status_code == 200 and listed.json()["sessions"][0]["ip"] == "203.0.113.7"
    assert_protected(listed)
    assert_protected(client.get("/v1/me/sessions"))  # 401 problem
    assert_protected(client.get("/v1/users/alice/sessions", headers=hs.auth("alice")))  # 403
    assert_protected(client.get("/v1/nowhere", headers=hs.auth("alice")))  # 404
    assert_protected(client.post("/web/devices", json={"user_agents": []}, headers=hs.auth()))


def test_the_headers_are_added_once_and_only_on_the_api(client: TestClient, hs: Minter) -> None:
    response = client.get("/v1/me/sessions", headers=hs.auth("alice"))
    assert response.headers.get_list("cache-control") == ["no-store"]
    assert "x-content-type-options" not in client.get("/healthz").headers
