"""`POST /v1/events`: a batch of IdP events in one transaction, each answered in order."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from ledger.bootstrap import LedgerSystem
from tests.api.conftest import Minter, ids, start
from tests.conftest import FakeClock

FUTURE = "2999-01-01T00:00:00Z"


def post(client: TestClient, minter: Minter, events: list[dict[str, Any]]) -> Any:
    """Send the batch; return the response."""
    return client.post(
        "/v1/events", json={"events": events}, headers=minter.auth("idp", "sessions:ingest")
    )


def test_items_are_answered_in_order_and_later_items_see_earlier_ones(
    client: TestClient, hs: Minter, clock: FakeClock, api_system: LedgerSystem
) -> None:
    before = api_system.ledger.recorder.max_notification_id() or 0
    response = post(
        client,
        hs,
        [
            {"type": "start", "session_id": "s1", "user_id": "alice", "ip": "192.0.2.1"},
            {"type": "start", "session_id": "s2", "user_id": "alice"},
            {"type": "activity", "session_id": "s1", "application": {"id": "wiki"}},
            {"type": "terminate", "session_id": "s2", "reason": "logout"},
            {"type": "start", "session_id": "s3", "user_id": "bob"},
            {"type": "revoke", "user_id": "bob", "reason": "account_locked"},
        ],
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 202, 200, 201, 200]
    assert results[0]["body"]["id"] == "s1"
    assert results[2]["body"] == {"recorded": False, "joined": True}
    assert results[3]["body"] == {"terminated": True, "reason": "logout"}
    assert results[5]["body"] == {"terminated": ["s3"]}
    # read-your-writes: the views already have the batch
    reader = hs.auth("r", "sessions:read")
    listed = client.get("/v1/users/alice/sessions", headers=reader)
    assert ids(listed) == ["s1"]
    assert listed.json()["sessions"][0]["applications"] == [{"id": "wiki", "name": "wiki"}]
    assert ids(client.get("/v1/users/bob/sessions", headers=reader)) == []
    # one transaction: the notification ids are consecutive and none was written twice
    after = api_system.ledger.recorder.max_notification_id() or 0
    notifications = api_system.ledger.recorder.select_notifications(before + 1, 100)
    assert [n.id for n in notifications] == list(range(before + 1, after + 1))


def test_a_refused_item_gets_its_problem_and_the_others_are_recorded(
    client: TestClient, minter: Minter
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "old", user_id="carol")
    client.post("/v1/sessions/old/terminate", json={"reason": "logout"}, headers=ingest)
    response = post(
        client,
        minter,
        [
            {"type": "activity", "session_id": "nope"},
            {"type": "start", "session_id": "n1", "user_id": "carol"},
            {"type": "activity", "session_id": "old"},
            {"type": "start", "session_id": "old", "user_id": "mallory"},
            {"type": "start", "session_id": "n2", "user_id": "carol", "started_at": FUTURE},
        ],
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [404, 201, 409, 409, 422]
    assert results[0]["body"]["type"].endswith("session-not-found")
    assert results[2]["body"]["type"].endswith("session-ended")
    assert results[3]["body"]["type"].endswith("session-conflict")
    assert results[4]["body"]["type"].endswith("future-time")
    assert all(r["body"]["status"] == r["status"] for r in results if r["status"] >= 400)
    listed = client.get("/v1/users/carol/sessions", headers=minter.auth("r", "sessions:read"))
    assert ids(listed) == ["n1"]


def test_a_repeated_start_in_a_batch_answers_200_as_the_single_route_does(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    first = start(client, ingest, "s1")
    response = post(
        client,
        hs,
        [
            {"type": "start", "session_id": "s1", "user_id": "alice"},
            {"type": "start", "session_id": "s4", "user_id": "alice"},
            {"type": "start", "session_id": "s4", "user_id": "alice"},
            {"type": "password_reset", "user_id": "alice", "keep_session_id": "s4"},
        ],
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == [200, 201, 200, 200]
    assert results[0]["body"] == first
    assert sorted(results[3]["body"]["terminated"]) == ["s1"]


def test_an_envelope_off_the_schema_is_one_422_and_records_nothing(
    client: TestClient, hs: Minter
) -> None:
    good: dict[str, Any] = {"type": "start", "session_id": "s1", "user_id": "alice"}
    envelopes: list[list[dict[str, Any]]] = [
        [],
        [good, {"type": "teleport"}],
        [good] * 1001,
        [good, {**good, "x": 1}],
    ]
    for events in envelopes:
        response = post(client, hs, events)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    reader = hs.auth("r", "sessions:read")
    assert ids(client.get("/v1/users/alice/sessions", headers=reader)) == []
    forbidden = client.post(
        "/v1/events", json={"events": [good]}, headers=hs.auth("r", "sessions:read")
    )
    assert forbidden.status_code == 403


def test_a_batch_may_be_larger_than_the_single_body_limit(client: TestClient, hs: Minter) -> None:
    events = [
        {"type": "start", "session_id": f"s{n}", "user_id": f"u{n % 7}", "user_agent": "x" * 200}
        for n in range(1000)
    ]
    response = post(client, hs, events)
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {201}
