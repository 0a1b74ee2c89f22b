"""Self-service rows of the API table: list mine with `current`, terminate one, terminate all."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import ALL_SCOPES, Minter, ids, start


def test_my_sessions_list_only_mine_and_mark_the_current_one(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1", application={"id": "mail", "name": "Mail"}, ip="203.0.113.7")
    start(client, ingest, "a2")
    start(client, ingest, "b1", user_id="bob")
    response = client.get("/v1/me/sessions", headers=minter.auth("alice", sid="a2"))
    assert response.status_code == 200
    sessions = {s["id"]: s for s in response.json()["sessions"]}
    assert set(sessions) == {"a1", "a2"}
    assert sessions["a2"]["current"] is True
    assert sessions["a1"]["current"] is False
    first = sessions["a1"]
    assert first["applications"] == [{"id": "mail", "name": "Mail"}]
    assert first["ip"] == "203.0.113.7"
    assert first["status"] == "active"
    assert first["tenant"] == "acme"
    assert first["started_at"].endswith("Z")
    assert set(first) == {
        "id", "user_id", "tenant", "status", "started_at", "last_active_at", "expires_at",
        "ip", "user_agent", "applications", "auth_methods", "current",
    }  # fmt: skip


def test_terminating_my_session_answers_204_and_it_is_gone_at_once(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    me = minter.auth("alice", sid="a2")
    response = client.delete("/v1/me/sessions/a1", headers=me)
    assert response.status_code == 204
    assert response.content == b""
    assert ids(client.get("/v1/me/sessions", headers=me)) == ["a2"]
    audit = minter.auth("auditor", "sessions:audit")
    history = client.get("/v1/users/alice/sessions/history", headers=audit).json()["sessions"]
    ended = next(s for s in history if s["id"] == "a1")
    assert (ended["termination_reason"], ended["terminated_by"]) == ("user_terminated", "alice")


def test_terminating_my_already_ended_session_again_answers_204(
    client: TestClient, hs: Minter
) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    me = hs.auth("alice")
    assert client.delete("/v1/me/sessions/a1", headers=me).status_code == 204
    assert client.delete("/v1/me/sessions/a1", headers=me).status_code == 204


def test_another_users_session_answers_404_like_a_missing_one(
    client: TestClient, minter: Minter
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "b1", user_id="bob")
    alice = minter.auth("alice", ALL_SCOPES)
    theirs = client.delete("/v1/me/sessions/b1", headers=alice)
    missing = client.delete("/v1/me/sessions/nope", headers=alice)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.headers["content-type"] == "application/problem+json"
    assert {k: v for k, v in theirs.json().items() if k not in ("detail", "instance")} == {
        k: v for k, v in missing.json().items() if k not in ("detail", "instance")
    }
    assert "bob" not in theirs.text
    bob = minter.auth("bob")
    assert ids(client.get("/v1/me/sessions", headers=bob)) == ["b1"]


def test_terminate_all_mine_keeps_the_current_one_when_asked(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    for sid in ("a1", "a2", "a3"):
        start(client, ingest, sid)
    start(client, ingest, "b1", user_id="bob")
    me = minter.auth("alice", sid="a2")
    response = client.delete("/v1/me/sessions?keep_current=true", headers=me)
    assert response.status_code == 200
    assert sorted(response.json()["terminated"]) == ["a1", "a3"]
    assert ids(client.get("/v1/me/sessions", headers=me)) == ["a2"]
    assert ids(client.get("/v1/me/sessions", headers=minter.auth("bob"))) == ["b1"]


def test_terminate_all_mine_without_keep_current_ends_every_one(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    start(client, ingest, "a2")
    me = hs.auth("alice", sid="a2")
    response = client.delete("/v1/me/sessions", headers=me)
    assert sorted(response.json()["terminated"]) == ["a1", "a2"]
    assert client.get("/v1/me/sessions", headers=hs.auth("alice")).json() == {"sessions": []}
    # the token's own session (a2) ended with the others, and the token with it
    assert client.get("/v1/me/sessions", headers=me).status_code == 401


def test_keep_current_without_a_sid_in_the_token_is_refused(client: TestClient, hs: Minter) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    response = client.delete("/v1/me/sessions?keep_current=true", headers=hs.auth("alice"))
    assert response.status_code == 400
    assert response.json()["type"].endswith("no-current-session")
    assert ids(client.get("/v1/me/sessions", headers=hs.auth("alice"))) == ["a1"]
