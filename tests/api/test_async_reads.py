"""The GET handlers that await their query (`ledger.persistence.async_reads`):

* a user's sessions, my sessions and one session's status answer the very bytes the sync
  view queries give (what the pages, the WSO2 API and the replay tools still use), on SQLite
  (a worker thread) and on PostgreSQL (the async pool, opened by the app's lifespan);
* while the views database is away the async read answers a 503 problem (in the fault tier,
  on its throw-away cluster: tests/faults/test_gate.py).
"""

from __future__ import annotations

import warnings
from typing import Any

from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import session_json
from ledger.api.session_status import status_json
from ledger.bootstrap import LedgerSystem
from ledger.persistence.async_reads import AsyncReads
from tests.api.conftest import Minter, start

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

READ = "sessions:read sessions:check"


def sync_body(payload: dict[str, Any]) -> bytes:
    return bytes(OrjsonResponse(payload).body)


def test_the_awaited_reads_answer_the_bytes_of_the_sync_queries(
    backend: str, client: TestClient, api_system: LedgerSystem, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    for n in range(3):
        start(client, ingest, f"s-{n}", user_id="alice", application={"id": f"app-{n}"})
    start(client, ingest, "s-bob", user_id="bob")
    reads = api_system.active.async_reads
    assert isinstance(reads, AsyncReads) if backend == "postgres" else reads is None
    now = api_system.clock()
    records = api_system.active.user_sessions("acme", "alice", now=now)
    assert len(records) == 3

    answer = client.get("/v1/users/alice/sessions", headers=hs.auth("admin", READ))
    assert answer.status_code == 200, answer.text
    assert answer.content == sync_body({"sessions": [session_json(r, now=now) for r in records]})

    mine = client.get("/v1/me/sessions", headers=hs.auth("alice", "sessions:me", sid="s-1"))
    assert mine.status_code == 200, mine.text
    expected = [{**session_json(r, now=now), "current": r.id == "s-1"} for r in records]
    assert mine.content == sync_body({"sessions": expected})

    status = client.get("/v1/sessions/s-2/status", headers=hs.auth("admin", READ))
    assert status.status_code == 200, status.text
    record = api_system.history.get("acme", "s-2")
    assert record is not None
    assert status.content == sync_body(status_json(record, now=now))

    assert client.get("/v1/users/nobody/sessions", headers=hs.auth("admin", READ)).json() == {
        "sessions": []
    }
    missing = client.get("/v1/sessions/nope/status", headers=hs.auth("admin", READ))
    assert missing.status_code == 404
