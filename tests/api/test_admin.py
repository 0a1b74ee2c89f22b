"""Admin rows: a user's sessions, terminate one or all, the tenant's list, the history."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Minter, ids, start
from tests.conftest import FakeClock


def test_an_admin_lists_a_users_active_sessions(client: TestClient, minter: Minter) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "b1", user_id="bob")
    response = client.get("/v1/users/alice/sessions", headers=minter.auth("root", "sessions:read"))
    assert response.status_code == 200
    assert ids(response) == ["a1"]
    assert "current" not in response.json()["sessions"][0]


def test_an_admin_terminates_one_session_with_reason_admin_terminated(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    admin = minter.auth("root", "sessions:terminate sessions:read sessions:audit")
    response = client.delete("/v1/users/alice/sessions/a1", headers=admin)
    assert response.status_code == 204
    assert ids(client.get("/v1/users/alice/sessions", headers=admin)) == ["a2"]
    history = client.get("/v1/users/alice/sessions/history", headers=admin).json()["sessions"]
    ended = next(s for s in history if s["id"] == "a1")
    assert ended["status"] == "ended"
    assert (ended["termination_reason"], ended["terminated_by"]) == ("admin_terminated", "root")
    assert client.delete("/v1/users/alice/sessions/a1", headers=admin).status_code == 204


def test_a_session_under_the_wrong_user_answers_404(client: TestClient, hs: Minter) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    admin = hs.auth("root", "sessions:terminate sessions:read")
    wrong_user = client.delete("/v1/users/bob/sessions/a1", headers=admin)
    missing = client.delete("/v1/users/alice/sessions/nope", headers=admin)
    assert wrong_user.status_code == missing.status_code == 404
    assert wrong_user.json()["title"] == missing.json()["title"]
    assert ids(client.get("/v1/users/alice/sessions", headers=admin)) == ["a1"]


def test_an_admin_terminates_all_of_a_users_sessions(client: TestClient, minter: Minter) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    start(client, ingest, "b1", user_id="bob")
    admin = minter.auth("root", "sessions:terminate sessions:read")
    response = client.delete("/v1/users/alice/sessions", headers=admin)
    assert response.status_code == 200
    assert sorted(response.json()["terminated"]) == ["a1", "a2"]
    assert ids(client.get("/v1/users/alice/sessions", headers=admin)) == []
    assert ids(client.get("/v1/users/bob/sessions", headers=admin)) == ["b1"]
    nobody = client.delete("/v1/users/nobody/sessions", headers=admin)
    assert (nobody.status_code, nobody.json()) == (200, {"terminated": []})


def test_the_tenant_list_filters_and_pages_with_a_cursor(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    for n in range(5):
        clock.advance(seconds=1)
        start(
            client,
            ingest,
            f"s{n}",
            user_id="alice" if n % 2 else "bob",
            application={"id": f"app{n % 2}"},
        )
    reader = minter.auth("root", "sessions:read")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/sessions", params=params, headers=reader).json()
        seen += [s["id"] for s in body["sessions"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert (seen, pages) == (["s4", "s3", "s2", "s1", "s0"], 3)
    by_user = client.get("/v1/sessions", params={"user_id": "alice"}, headers=reader)
    assert ids(by_user) == ["s3", "s1"]
    by_app = client.get("/v1/sessions", params={"application_id": "app0"}, headers=reader)
    assert ids(by_app) == ["s4", "s2", "s0"]


def test_a_malformed_cursor_is_a_422_problem(client: TestClient, hs: Minter) -> None:
    response = client.get(
        "/v1/sessions", params={"cursor": "not-a-cursor"}, headers=hs.auth("root", "sessions:read")
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("invalid-cursor")


def test_history_shows_ended_and_open_sessions_with_reasons_and_pages(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    for n in range(3):
        clock.advance(seconds=1)
        start(client, ingest, f"a{n}")
    client.post("/v1/sessions/a0/terminate", json={"reason": "logout"}, headers=ingest)
    auditor = minter.auth("auditor", "sessions:audit")
    first = client.get("/v1/users/alice/sessions/history?limit=2", headers=auditor).json()
    assert [s["id"] for s in first["sessions"]] == ["a2", "a1"]
    assert first["sessions"][0]["ended_at"] is None
    rest = client.get(
        "/v1/users/alice/sessions/history",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=auditor,
    ).json()
    assert rest["next_cursor"] is None
    [ended] = rest["sessions"]
    assert ended["id"] == "a0"
    assert ended["status"] == "ended"
    assert ended["termination_reason"] == "logout"
    assert ended["terminated_by"] == "idp"
    assert ended["ended_at"].endswith("Z")


def test_history_since_and_until_select_overlapping_sessions(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "early")
    client.post("/v1/sessions/early/terminate", json={"reason": "logout"}, headers=ingest)
    clock.advance(hours=1)
    middle = clock.now.isoformat()
    clock.advance(hours=1)
    start(client, ingest, "late")
    auditor = hs.auth("auditor", "sessions:audit")
    since = client.get(
        "/v1/users/alice/sessions/history", params={"since": middle}, headers=auditor
    )
    assert ids(since) == ["late"]
    until = client.get(
        "/v1/users/alice/sessions/history", params={"until": middle}, headers=auditor
    )
    assert ids(until) == ["early"]


def test_users_with_active_sessions_are_counted_by_prefix(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    start(client, ingest, "b1", user_id="bob")
    reader = hs.auth("root", "sessions:read")
    assert client.get("/v1/users", headers=reader).json() == {
        "users": [
            {"user_id": "alice", "active_sessions": 2},
            {"user_id": "bob", "active_sessions": 1},
        ]
    }
    only_b = client.get("/v1/users", params={"prefix": "b"}, headers=reader).json()
    assert only_b == {"users": [{"user_id": "bob", "active_sessions": 1}]}
