"""`GET /v1/sessions/{session_id}/status` (scope `sessions:check`), as README's "Session
status check" describes it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ALL_SCOPES, Minter, start
from tests.conftest import FakeClock

CHECK = "sessions:check"


def test_an_open_session_answers_active_with_its_expiry(client: TestClient, minter: Minter) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "s1", idle_timeout_s=600)
    response = client.get("/v1/sessions/s1/status", headers=minter.auth("gateway", CHECK))
    assert response.status_code == 200
    assert response.json() == {
        "active": True,
        "status": "active",
        "expires_at": "2026-03-01T12:10:00Z",
        "ended_at": None,
        "reason": None,
    }


def test_a_terminated_session_answers_its_end_and_reason(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "s1")
    clock.advance(minutes=3)
    admin = minter.auth("admin-7", "sessions:terminate")
    assert client.delete("/v1/users/alice/sessions/s1", headers=admin).status_code == 204
    body = client.get("/v1/sessions/s1/status", headers=minter.auth("gw", CHECK)).json()
    assert body["active"] is False
    assert body["status"] == "ended"
    assert body["ended_at"] == "2026-03-01T12:03:00Z"
    assert body["reason"] == "admin_terminated"


def test_an_expired_session_not_yet_reaped_answers_expired_with_the_idle_reason(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "s1", idle_timeout_s=60)
    clock.advance(seconds=61)
    body = client.get("/v1/sessions/s1/status", headers=minter.auth("gw", CHECK)).json()
    assert body == {
        "active": False,
        "status": "expired",
        "expires_at": "2026-03-01T12:01:00Z",
        "ended_at": "2026-03-01T12:01:00Z",
        "reason": "idle_timeout",
    }


def test_an_expired_session_past_its_lifetime_answers_the_max_lifetime_reason(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    start(
        client, minter.auth("idp", "sessions:ingest"), "s1", idle_timeout_s=3600, max_lifetime_s=120
    )
    clock.advance(seconds=120)
    body = client.get("/v1/sessions/s1/status", headers=minter.auth("gw", CHECK)).json()
    assert (body["active"], body["status"], body["reason"]) == (False, "expired", "max_lifetime")
    assert body["ended_at"] == body["expires_at"] == "2026-03-01T12:02:00Z"


def test_a_session_of_another_tenant_answers_404_like_a_missing_one(
    client: TestClient, minter: Minter
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "s1")
    other = minter.auth("gw", CHECK, tenant="globex")
    theirs = client.get("/v1/sessions/s1/status", headers=other)
    missing = client.get("/v1/sessions/nope/status", headers=minter.auth("gw", CHECK))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert theirs.json()["type"] == missing.json()["type"]


def test_the_status_check_needs_the_sessions_check_scope(
    client: TestClient, minter: Minter
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "s1")
    response = client.get("/v1/sessions/s1/status", headers=minter.auth("gw", ALL_SCOPES))
    assert response.status_code == 403
    assert 'scope="sessions:check"' in response.headers["www-authenticate"]
    assert client.get("/v1/sessions/s1/status").status_code == 401
