"""Errors are RFC 9457 problems: bad input a 4xx, a database outage a 503, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from ledger.aggregates.errors import InvalidInput
from ledger.bootstrap import LedgerSystem
from tests.api.conftest import Minter, start


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"]
    assert body["title"]
    assert "Traceback" not in response.text
    return body


def test_an_unknown_route_is_a_404_problem(client: TestClient) -> None:
    assert "no route" in problem(client.get("/v1/nothing-here"), 404)["detail"]


def test_a_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = client.put("/v1/me/sessions")
    problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_a_body_over_64_kib_is_a_413_problem(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    big = {"user_id": "alice", "user_agent": "x" * (65 * 1024)}
    problem(client.post("/v1/sessions", json=big, headers=ingest), 413)

    def chunks() -> Iterator[bytes]:
        yield b'{"user_id": "alice", "user_agent": "'
        for _ in range(70):
            yield b"y" * 1024
        yield b'"}'

    problem(client.post("/v1/sessions", content=chunks(), headers=ingest), 413)


def test_oversized_ids_are_422(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    long = "u" * 256
    problem(client.post("/v1/sessions", json={"user_id": long}, headers=ingest), 422)
    problem(
        client.post("/v1/sessions", json={"user_id": "a", "session_id": long}, headers=ingest), 422
    )
    problem(client.post(f"/v1/sessions/{long}/activity", json={}, headers=ingest), 422)
    problem(client.delete(f"/v1/me/sessions/{long}", headers=hs.auth("alice")), 422)
    reader = hs.auth("root", "sessions:read")
    problem(client.get(f"/v1/users/{long}/sessions", headers=reader), 422)


@pytest.mark.parametrize("ip", ["999.1.1.1", "not-an-ip", "10.0.0.1/24", " "])
def test_an_invalid_ip_address_is_422(client: TestClient, hs: Minter, ip: str) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    body = problem(
        client.post("/v1/sessions", json={"user_id": "a", "ip": ip}, headers=ingest), 422
    )
    assert "IP" in body["detail"] or "ip" in body["detail"]


def test_unknown_fields_and_malformed_json_are_422_with_the_field_named(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    body = problem(
        client.post("/v1/sessions", json={"user_id": "a", "admin": True}, headers=ingest), 422
    )
    assert body["errors"][0]["loc"] == ["body", "admin"]
    nested = {"user_id": "a", "application": {"id": "x", "owner": "me"}}
    problem(client.post("/v1/sessions", json=nested, headers=ingest), 422)
    broken = client.post(
        "/v1/sessions",
        content=b'{"user_id": ',
        headers={**ingest, "content-type": "application/json"},
    )
    problem(broken, 422)
    problem(client.post("/v1/sessions", json=["user_id"], headers=ingest), 422)


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 501}, {"limit": "many"}, {"user_id": ""}, {"ip": "nope"}]
)
def test_bad_query_parameters_are_422(
    client: TestClient, hs: Minter, query: dict[str, Any]
) -> None:
    problem(client.get("/v1/sessions", params=query, headers=hs.auth("r", "sessions:read")), 422)


@pytest.mark.parametrize("bad", ["a\x00b", "tab\there", " padded", "new\nline"])
def test_control_characters_in_ids_are_422_on_every_backend(
    client: TestClient, hs: Minter, bad: str
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    problem(client.post("/v1/sessions", json={"user_id": bad}, headers=ingest), 422)
    reader = hs.auth("r", "sessions:read")
    problem(client.get("/v1/sessions", params={"user_id": bad}, headers=reader), 422)
    problem(client.get("/v1/sessions", params={"application_id": bad}, headers=reader), 422)


def test_nul_characters_in_free_text_are_refused_not_stored(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    for body in (
        {"user_id": "a", "user_agent": "Mozilla\x00"},
        {"user_id": "a", "auth_methods": ["pwd\x00"]},
        {"user_id": "a", "application": {"id": "mail", "name": "M\x00"}},
    ):
        problem(client.post("/v1/sessions", json=body, headers=ingest), 422)
    start(client, ingest, "after")
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize("failure", [OperationalError("down"), psycopg.OperationalError("down")])
def test_a_database_outage_is_a_503_problem(
    client: TestClient,
    api_system: LedgerSystem,
    hs: Minter,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise failure

    async def broken_read(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(api_system.active, "user_sessions_async", broken_read)
    monkeypatch.setattr(api_system.ledger, "start_session", broken)
    response = client.get("/v1/me/sessions", headers=hs.auth("alice"))
    assert problem(response, 503)["detail"].startswith("the database")
    assert response.headers["retry-after"]
    problem(
        client.post(
            "/v1/sessions", json={"user_id": "a"}, headers=hs.auth("idp", "sessions:ingest")
        ),
        503,
    )


def test_the_ledger_itself_refuses_nul_in_free_text(api_system: LedgerSystem) -> None:
    """Regression: on PostgreSQL a stored NUL stalled both projections for good."""
    with pytest.raises(InvalidInput, match="NUL"):
        api_system.ledger.start_session(tenant="t", user_id="alice", user_agent="a\x00b")
    with pytest.raises(InvalidInput):
        api_system.ledger.start_session(tenant="t", user_id="alice", auth_methods=["p\x00"])


def test_a_repeated_query_parameter_is_422(client: TestClient, hs: Minter) -> None:
    reader = hs.auth("r", "sessions:read")
    problem(client.get("/v1/sessions?limit=1&limit=2", headers=reader), 422)
    problem(client.get("/v1/me/sessions?x=1&x=2", headers=hs.auth("alice")), 422)


def test_every_domain_error_has_an_http_mapping_in_the_api_layer() -> None:
    """The domain knows no HTTP: every `LedgerError` subclass is mapped here, nearest first."""
    import ledger.aggregates.errors as domain
    from ledger.api.problems import DOMAIN_PROBLEMS, domain_problem
    from ledger.projections.pages import InvalidCursor

    errors = [v for v in vars(domain).values() if isinstance(v, type) and issubclass(v, Exception)]
    for error in [*errors, InvalidCursor]:
        assert error in DOMAIN_PROBLEMS, error.__name__
        assert not hasattr(error, "status"), f"{error.__name__} still carries an HTTP status"
    assert domain_problem(InvalidCursor("x"))[:2] == (422, "invalid-cursor")
    assert domain_problem(domain.SessionEnded("x"))[:2] == (409, "session-ended")
