"""Operations endpoints: liveness, readiness with projection lag, and Prometheus metrics."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from ledger.api.app import create_app
from ledger.bootstrap import LedgerSystem
from ledger.config import Settings
from tests.api.conftest import Minter, start


def test_healthz_answers_ok_without_a_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_reports_the_lag_of_each_view(client: TestClient, hs: Minter) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "s1")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "lag": {"active_sessions": 0, "session_history": 0, "session_counts": 0},
    }


def test_readyz_is_503_when_a_view_is_too_far_behind(
    client: TestClient, api_system: LedgerSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_system, "lag", lambda: {"active_sessions": 5000, "session_history": 0})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["lag"] == {"active_sessions": 5000, "session_history": 0}
    assert "active_sessions" in response.json()["detail"]


def test_readyz_is_503_when_the_database_does_not_answer(
    client: TestClient, api_system: LedgerSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down() -> dict[str, int]:
        raise OperationalError("connection refused")

    monkeypatch.setattr(api_system, "lag", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the database is not reachable")
    assert response.headers["retry-after"] == "2"
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_metrics_count_requests_by_route_template_and_commands_by_outcome(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "s1")
    client.post("/v1/sessions", json={"user_id": "alice", "session_id": "s1"}, headers=ingest)
    client.post("/v1/sessions/zzz/activity", json={}, headers=ingest)
    client.get("/v1/users/alice/sessions", headers=hs.auth("r", "sessions:read"))
    client.get("/no/such/route")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    requests = "ledger_http_requests_total"
    for line in (
        f'{requests}{{method="GET",route="/v1/users/{{user_id}}/sessions",status="200"}} 1.0',
        f'{requests}{{method="POST",route="/v1/sessions",status="201"}} 1.0',
        f'{requests}{{method="GET",route="unmatched",status="404"}} 1.0',
        'ledger_commands_total{command="start_session",outcome="created"} 1.0',
        'ledger_commands_total{command="start_session",outcome="repeated"} 1.0',
        'ledger_commands_total{command="record_activity",outcome="session-not-found"} 1.0',
        'ledger_projection_lag{view="active_sessions"} 0.0',
    ):
        assert line in text, line
    assert "ledger_http_request_duration_seconds_bucket" in text
    assert "/v1/users/alice" not in text


def test_each_app_keeps_its_own_metrics(
    client: TestClient, make_client: Callable[..., TestClient]
) -> None:
    client.get("/healthz")
    other = make_client()
    assert 'route="/healthz"' not in other.get("/metrics").text
    assert 'route="/healthz"' in client.get("/metrics").text


def test_requests_before_startup_get_a_503_problem(
    api_settings: Settings, api_system: LedgerSystem, hs: Minter
) -> None:
    client = TestClient(create_app(api_settings, system=api_system))  # lifespan not started
    response = client.get("/v1/me/sessions", headers=hs.auth())
    assert response.status_code == 503
    assert response.json()["detail"] == "the ledger is starting"
    assert client.get("/healthz").status_code == 200
