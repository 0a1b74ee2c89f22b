"""The WSO2 / Asgardeo Session Management API served by the ledger: shapes, scopes, tenant
domain, terminations and error bodies, one test per documented behaviour.

Fixtures follow WSO2's documented example (github wso2/identity-api-user,
components/org.wso2.carbon.identity.api.user.session/.../src/main/resources/session.yaml,
the 200 example of `GET /me/sessions`: applications travelocity-requestpath and avis-basic,
the Firefox 15 user agent, ip 127.0.0.1).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter, start
from tests.conftest import FakeClock

BASE = "/t/acme/api/users/v1"
AGENT = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:15.0) Gecko/20100101 Firefox/15.0.1"
TRAVELOCITY = {"id": "298c5fd8-01ac-4ada-bc10-1ce37f32140b", "name": "travelocity-requestpath"}
AVIS = {"id": "738645a4-f494-11eb-9a03-0242ac130003", "name": "avis-basic"}
# session.yaml, `GET /me/sessions` 200 example (one session of it)
DOCUMENTED_SESSION = {
    "applications": [
        {"id": "298c5fd8-01ac-4ada-bc10-1ce37f32140b", "subject": "admin",
         "appName": "travelocity-requestpath", "appId": "4"},
        {"id": "738645a4-f494-11eb-9a03-0242ac130003", "subject": "admin",
         "appName": "avis-basic", "appId": "5"},
    ],
    "userAgent": AGENT, "ip": "127.0.0.1", "loginTime": "1565586399249",
    "lastAccessTime": "1565586435955",
    "id": "30e775bcc2c858ff88584b38b017d6c703a6657f38320804a071ff82fce1a0fe",
}  # fmt: skip
EXAMPLE_START = "2019-08-12T05:06:39.249Z"  # 1565586399249 ms


def documented_login(
    client: TestClient, minter: Minter, clock: FakeClock, *, session_id: str, user: str = "alice"
) -> None:
    """The example's session: two applications, its user agent and address."""
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, session_id, user_id=user, ip="127.0.0.1", user_agent=AGENT,
          application=TRAVELOCITY)  # fmt: skip
    joined = client.post(
        f"/v1/sessions/{session_id}/activity", json={"application": AVIS}, headers=ingest
    )
    assert joined.status_code == 202, joined.text


def history_of(client: TestClient, minter: Minter, user: str) -> dict[str, dict[str, Any]]:
    audit = minter.auth("auditor", "sessions:audit")
    sessions = client.get(f"/v1/users/{user}/sessions/history", headers=audit).json()["sessions"]
    return {s["id"]: s for s in sessions}


def test_my_sessions_have_the_documented_shape_with_times_as_ms_strings(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    response = client.get(f"{BASE}/me/sessions", headers=minter.auth("alice", "internal_login"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"userId", "sessions"}
    assert body["userId"] == "alice"
    (session,) = body["sessions"]
    assert set(session) == set(DOCUMENTED_SESSION) | {"userId"}
    assert {k: type(v) for k, v in session.items() if k in DOCUMENTED_SESSION} == {
        k: type(v) for k, v in DOCUMENTED_SESSION.items()
    }
    assert (
        session["loginTime"] == session["lastAccessTime"] == str(int(clock.now.timestamp() * 1000))
    )
    assert [set(a) for a in session["applications"]] == [
        set(a) for a in DOCUMENTED_SESSION["applications"]
    ]
    assert [(a["appName"], a["subject"]) for a in session["applications"]] == [
        ("travelocity-requestpath", "alice"),
        ("avis-basic", "alice"),
    ]
    assert (session["ip"], session["userAgent"], session["id"]) == ("127.0.0.1", AGENT, "s1")


def test_login_time_keeps_the_milliseconds(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    clock.advance(milliseconds=249.5)
    start(client, ingest, "s1")
    clock.advance(seconds=61, milliseconds=706.1)  # past the 60 s activity granularity
    client.post("/v1/sessions/s1/activity", json={}, headers=ingest)
    viewer = minter.auth("root", "internal_session_view")
    session = client.get(f"{BASE}/alice/sessions/s1", headers=viewer).json()
    started_ms = int(clock.now.timestamp() * 1000) - 61_706
    assert session["loginTime"] == str(started_ms)
    assert session["lastAccessTime"] == str(started_ms + 61_706)
    assert session["loginTime"].endswith("249")


@pytest.mark.parametrize(
    ("method", "path", "wso2", "ledger"),
    [
        ("GET", "/me/sessions", "internal_login", "sessions:me"),
        ("DELETE", "/me/sessions", "internal_login", "sessions:me"),
        ("DELETE", "/me/sessions/x", "internal_login", "sessions:me"),
        ("GET", "/bob/sessions", "internal_session_view", "sessions:read"),
        ("GET", "/sessions", "internal_session_view", "sessions:read"),
        ("DELETE", "/bob/sessions", "internal_session_delete", "sessions:terminate"),
        ("DELETE", "/bob/sessions/x", "internal_session_delete", "sessions:terminate"),
    ],
)
def test_each_operation_takes_the_wso2_scope_or_the_ledgers_and_refuses_others(
    client: TestClient, hs: Minter, method: str, path: str, wso2: str, ledger: str
) -> None:
    for scope in (wso2, ledger):
        answer = client.request(method, BASE + path, headers=hs.auth("alice", scope))
        assert answer.status_code in (200, 204), (scope, answer.text)
    every = "sessions:me sessions:read sessions:terminate internal_login internal_session_view"
    wrong = " ".join(
        s for s in (*every.split(), "internal_session_delete") if s not in (wso2, ledger)
    )
    refused = client.request(method, BASE + path, headers=hs.auth("alice", wrong))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["code"] == "USM-10007"
    assert f'scope="{wso2}"' in refused.headers["www-authenticate"]


def test_the_error_body_is_wso2s_with_a_trace_id(client: TestClient, hs: Minter) -> None:
    missing = client.get(f"{BASE}/me/sessions")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    body = missing.json()
    assert set(body) == {"code", "message", "description", "traceId"}
    assert body["code"].startswith("USM-")
    other = client.get(f"{BASE}/me/sessions").json()["traceId"]
    assert other != body["traceId"]


def test_a_token_of_another_tenant_is_refused_with_401(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    globex = minter.auth("alice", "internal_login internal_session_view", tenant="globex")
    for path in ("/me/sessions", "/alice/sessions", "/sessions"):
        answer = client.get(BASE + path, headers=globex)
        assert answer.status_code == 401, path
        assert "tenant" in answer.json()["description"]
    theirs = client.get("/t/globex/api/users/v1/alice/sessions", headers=globex)
    assert theirs.json() == {"userId": "alice", "sessions": []}


def test_the_tenant_domain_selects_the_ledger_tenant(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    ingest = minter.auth("idp", "sessions:ingest", tenant="globex")
    start(client, ingest, "g1")
    globex = minter.auth("root", "internal_session_view", tenant="globex")
    found = client.get("/t/globex/api/users/v1/sessions", headers=globex).json()
    assert [s["id"] for s in found["Resources"]] == ["g1"]


def test_ending_one_of_my_sessions_is_recorded_as_v1_records_it(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    documented_login(client, minter, clock, session_id="s2")
    me = minter.auth("alice", "internal_login")
    assert client.delete(f"{BASE}/me/sessions/s1", headers=me).status_code == 204
    listed = client.get(f"{BASE}/me/sessions", headers=me).json()["sessions"]
    assert [s["id"] for s in listed] == ["s2"]  # read-your-writes
    ended = history_of(client, minter, "alice")["s1"]
    assert (ended["termination_reason"], ended["terminated_by"]) == ("user_terminated", "alice")


def test_ending_all_my_sessions_answers_204_and_ends_every_one(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    documented_login(client, minter, clock, session_id="s2")
    documented_login(client, minter, clock, session_id="b1", user="bob")
    me = minter.auth("alice", "sessions:me", sid="s2")
    answer = client.delete(f"{BASE}/me/sessions", headers=me)
    assert (answer.status_code, answer.content) == (204, b"")
    assert client.get(f"{BASE}/me/sessions", headers=me).status_code == 401  # its session ended
    fresh = minter.auth("alice", "sessions:me")
    assert client.get(f"{BASE}/me/sessions", headers=fresh).json()["sessions"] == []
    reasons = {k: v["termination_reason"] for k, v in history_of(client, minter, "alice").items()}
    assert reasons == {"s1": "user_terminated", "s2": "user_terminated"}
    assert "termination_reason" in history_of(client, minter, "bob")["b1"]
    assert history_of(client, minter, "bob")["b1"]["termination_reason"] is None


def test_an_admin_ends_one_or_all_of_a_users_sessions_as_admin_terminated(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    for sid in ("s1", "s2", "s3"):
        documented_login(client, minter, clock, session_id=sid)
    admin = minter.auth("root", "internal_session_delete internal_session_view")
    assert client.delete(f"{BASE}/alice/sessions/s1", headers=admin).status_code == 204
    left = client.get(f"{BASE}/alice/sessions", headers=admin).json()["sessions"]
    assert sorted(s["id"] for s in left) == ["s2", "s3"]
    assert client.delete(f"{BASE}/alice/sessions", headers=admin).status_code == 204
    assert client.get(f"{BASE}/alice/sessions", headers=admin).json()["sessions"] == []
    history = history_of(client, minter, "alice")
    assert {(s["termination_reason"], s["terminated_by"]) for s in history.values()} == {
        ("admin_terminated", "root")
    }


def test_ending_a_missing_or_anothers_session_answers_204_and_records_nothing(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="b1", user="bob")
    me = minter.auth("alice", "internal_login")
    admin = minter.auth("root", "internal_session_delete")
    assert client.delete(f"{BASE}/me/sessions/b1", headers=me).status_code == 204
    assert client.delete(f"{BASE}/me/sessions/nope", headers=me).status_code == 204
    assert client.delete(f"{BASE}/alice/sessions/b1", headers=admin).status_code == 204
    assert history_of(client, minter, "bob")["b1"]["termination_reason"] is None


def test_one_session_of_a_user_answers_200_or_404(
    client: TestClient, minter: Minter, clock: FakeClock
) -> None:
    documented_login(client, minter, clock, session_id="s1")
    viewer = minter.auth("root", "internal_session_view")
    found = client.get(f"{BASE}/alice/sessions/s1", headers=viewer)
    assert found.status_code == 200
    assert set(found.json()) == set(DOCUMENTED_SESSION) | {"userId"}
    for path in ("/bob/sessions/s1", "/alice/sessions/nope"):
        answer = client.get(BASE + path, headers=viewer)
        assert answer.status_code == 404
        assert set(answer.json()) == {"code", "message", "description", "traceId"}


@pytest.mark.parametrize(
    ("query", "code"),
    [("limit=5", "USM-00003"), ("offset=1", "USM-00003"), ("filter=x", "USM-00004"),
     ("sort=asc", "USM-00005")],
)  # fmt: skip
def test_paging_filtering_sorting_a_users_list_is_not_implemented_as_in_wso2(
    client: TestClient, hs: Minter, query: str, code: str
) -> None:
    for path, scope in (("/me/sessions", "internal_login"), ("/bob/sessions", "sessions:read")):
        answer = client.get(f"{BASE}{path}?{query}", headers=hs.auth("alice", scope))
        assert answer.status_code == 501
        assert answer.json()["code"] == code
        assert client.get(f"{BASE}{path}?{query}").status_code == 401  # authentication first


def test_invalid_input_is_a_wso2_400_never_a_422(client: TestClient, hs: Minter) -> None:
    viewer = hs.auth("root", "internal_session_view")
    for query in ("limit=ten", "since=yesterday", "filter=loginId%20eq", "limit=1&limit=2"):
        answer = client.get(f"{BASE}/sessions?{query}", headers=viewer)
        assert answer.status_code == 400, query
        assert answer.json()["code"] == "USM-10011"


def test_the_openapi_document_declares_wso2_errors_as_json(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    ours = {p: item for p, item in paths.items() if p.startswith("/t/")}
    assert len(ours) == 5
    for item in ours.values():
        for operation in item.values():
            assert "422" not in operation["responses"]
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/json"]
