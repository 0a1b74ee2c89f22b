"""The GET handlers that await their query (`ledger.persistence.async_reads`):

* a user's sessions, my sessions and one session's status answer the very bytes the sync
  view queries give (what the pages, the WSO2 API and the replay tools still use), on SQLite
  (a worker thread) and on PostgreSQL (the async pool, opened by the app's lifespan);
* while the views database is away the async read answers a 503 problem, not a 500 and not a
  hang: first after the gate's verdict, then at once; it serves again once the database is
  back. Against a throw-away cluster (tests/faults/cluster.py), stopped and started.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.api.app import create_app
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import session_json
from ledger.api.session_status import status_json
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings, load_settings
from ledger.persistence.async_reads import AsyncReads
from tests.api.conftest import SECRET, Minter, start
from tests.faults.cluster import Cluster, initdb_binary

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


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A throw-away PostgreSQL cluster of this module's own (it is stopped and started)."""
    initdb = initdb_binary()
    if initdb is None:
        pytest.skip("no /usr/lib/postgresql/*/bin/initdb: a throw-away cluster needs one")
    folder = Path(tempfile.mkdtemp(prefix="ledger-async-reads-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder
    cluster = Cluster(folder / "pg", bindir=initdb.parent)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()
        folder.rmdir()


@pytest.fixture
def outage_settings(cluster: Cluster) -> Settings:
    return load_settings(
        database_url=cluster.url, jwt_secret=SECRET, unsafe_skip_issuer_audience=True
    )


def until(check: Callable[[], bool], *, within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.1)


@pytest.mark.faults
def test_an_awaited_read_answers_503_while_the_database_is_away(
    cluster: Cluster, outage_settings: Settings, hs: Minter
) -> None:
    system = bootstrap(outage_settings, run_projections=True)
    path, read = "/v1/users/alice/sessions", hs.auth("admin", READ)
    try:
        with TestClient(create_app(outage_settings, system=system)) as client:
            start(client, hs.auth("idp", "sessions:ingest"), "s-1")
            assert isinstance(system.active.async_reads, AsyncReads)
            assert client.get(path, headers=read).status_code == 200
            cluster.stop("immediate")
            try:
                for _ in range(3):  # the first meets the broken connection; then refused at once
                    away = client.get(path, headers=read)
                    assert away.status_code == 503, away.text
                    assert away.headers["content-type"] == "application/problem+json"
                    assert away.json()["title"] == "Service unavailable"
                assert system.active.async_reads is not None
                assert system.active.async_reads.gate.is_down
            finally:
                cluster.start()
            until(lambda: client.get(path, headers=read).status_code == 200)
            assert [s["id"] for s in client.get(path, headers=read).json()["sessions"]] == ["s-1"]
    finally:
        cluster.start()
        system.close()
