"""Identity-provider rows of the API table: start, activity, terminate, password reset, revoke."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from tests.api.conftest import Minter, ids, start
from tests.conftest import FakeClock


def test_a_start_answers_201_then_200_when_repeated_and_409_with_other_data(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    body = {
        "session_id": "s1",
        "user_id": "alice",
        "ip": "2001:db8::1",
        "user_agent": "Mozilla/5.0",
        "application": {"id": "mail", "name": "Mail"},
        "auth_methods": ["pwd", "otp"],
        "idle_timeout_s": 600,
        "max_lifetime_s": 3600,
    }
    first = client.post("/v1/sessions", json=body, headers=ingest)
    assert first.status_code == 201
    session = first.json()
    assert session["id"] == "s1"
    assert session["auth_methods"] == ["pwd", "otp"]
    assert session["status"] == "active"
    again = client.post("/v1/sessions", json=body, headers=ingest)
    assert again.status_code == 200
    assert again.json() == session
    other = client.post("/v1/sessions", json={**body, "user_id": "mallory"}, headers=ingest)
    assert other.status_code == 409
    assert other.json()["type"].endswith("session-conflict")


def test_a_start_without_session_id_gets_a_fresh_one(client: TestClient, hs: Minter) -> None:
    response = client.post(
        "/v1/sessions", json={"user_id": "alice"}, headers=hs.auth("idp", "sessions:ingest")
    )
    assert response.status_code == 201
    assert len(response.json()["id"]) == 36


def test_activity_answers_202_and_sso_joins_an_application(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "s1")
    clock.advance(minutes=5)
    response = client.post("/v1/sessions/s1/activity", json={"ip": "198.51.100.2"}, headers=ingest)
    assert (response.status_code, response.json()) == (202, {"recorded": True, "joined": False})
    joined = client.post(
        "/v1/sessions/s1/activity",
        json={"application": {"id": "wiki", "name": "Wiki"}},
        headers=ingest,
    )
    assert (joined.status_code, joined.json()) == (202, {"recorded": False, "joined": True})
    reader = minter.auth("r", "sessions:read")
    [session] = client.get("/v1/users/alice/sessions", headers=reader).json()["sessions"]
    assert session["ip"] == "198.51.100.2"
    assert session["applications"] == [{"id": "wiki", "name": "Wiki"}]
    assert session["last_active_at"] == clock.now.isoformat().replace("+00:00", "Z")
    bare = client.post("/v1/sessions/s1/activity", headers=ingest)
    assert (bare.status_code, bare.json()) == (202, {"recorded": False, "joined": False})


def test_activity_on_an_unknown_session_is_404_and_on_an_ended_one_409(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    assert client.post("/v1/sessions/nope/activity", json={}, headers=ingest).status_code == 404
    start(client, ingest, "s1")
    client.post("/v1/sessions/s1/terminate", json={"reason": "browser_closed"}, headers=ingest)
    ended = client.post("/v1/sessions/s1/activity", json={}, headers=ingest)
    assert ended.status_code == 409
    assert ended.json()["type"].endswith("session-ended")


def test_terminate_records_logout_or_browser_closed_and_repeats_harmlessly(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "s1")
    response = client.post("/v1/sessions/s1/terminate", json={"reason": "logout"}, headers=ingest)
    assert response.status_code == 200
    assert response.json() == {"terminated": True, "reason": "logout"}
    again = client.post(
        "/v1/sessions/s1/terminate", json={"reason": "browser_closed"}, headers=ingest
    )
    assert again.json() == {"terminated": False, "reason": "logout"}
    assert client.get("/v1/me/sessions", headers=minter.auth("alice")).json()["sessions"] == []


def test_terminate_refuses_reasons_that_are_not_the_idps(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "s1")
    response = client.post(
        "/v1/sessions/s1/terminate", json={"reason": "admin_terminated"}, headers=ingest
    )
    assert response.status_code == 422
    assert ids(client.get("/v1/me/sessions", headers=hs.auth("alice"))) == ["s1"]


def test_a_password_reset_ends_every_session_but_the_kept_one(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    for sid in ("a1", "a2", "a3"):
        start(client, ingest, sid)
    response = client.post(
        "/v1/users/alice/password-reset", json={"keep_session_id": "a3"}, headers=ingest
    )
    assert response.status_code == 200
    assert sorted(response.json()["terminated"]) == ["a1", "a2"]
    assert ids(client.get("/v1/me/sessions", headers=minter.auth("alice"))) == ["a3"]
    history = client.get(
        "/v1/users/alice/sessions/history", headers=minter.auth("aud", "sessions:audit")
    ).json()["sessions"]
    reasons = {s["id"]: s["termination_reason"] for s in history}
    assert reasons == {"a1": "password_reset", "a2": "password_reset", "a3": None}
    empty = client.post("/v1/users/alice/password-reset", headers=ingest)
    assert sorted(empty.json()["terminated"]) == ["a3"]


def test_a_revoke_ends_all_sessions_with_the_accounts_reason(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    response = client.post(
        "/v1/users/alice/revoke", json={"reason": "account_locked"}, headers=ingest
    )
    assert (response.status_code, response.json()) == (200, {"terminated": ["a1"]})
    bad = client.post("/v1/users/alice/revoke", json={"reason": "logout"}, headers=ingest)
    assert bad.status_code == 422


def test_client_times_are_honoured_but_not_beyond_five_minutes_ahead(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    earlier = (clock.now - timedelta(minutes=3)).isoformat()
    session = start(client, ingest, "s1", started_at=earlier)
    assert session["started_at"] == earlier.replace("+00:00", "Z")
    future = (clock.now + timedelta(minutes=6)).isoformat()
    response = client.post(
        "/v1/sessions", json={"user_id": "alice", "started_at": future}, headers=ingest
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("future-time")
    naive = client.post(
        "/v1/sessions",
        json={"user_id": "alice", "started_at": "2026-03-01T12:00:00"},
        headers=ingest,
    )
    assert naive.status_code == 422


def test_an_expired_session_is_not_listed_even_before_the_reaper_runs(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "s1", idle_timeout_s=60)
    me = hs.auth("alice")
    assert ids(client.get("/v1/me/sessions", headers=me)) == ["s1"]
    clock.advance(seconds=61)
    assert ids(client.get("/v1/me/sessions", headers=me)) == []
    history = client.get(
        "/v1/users/alice/sessions/history", headers=hs.auth("a", "sessions:audit")
    ).json()["sessions"]
    assert history[0]["status"] == "expired"
