"""The database gate (`ledger.persistence.gate`) and the pools behind it, against a throw-away
PostgreSQL cluster that the tests stop and restart:

* which errors count as the connection failing (and which are a statement's own);
* the async read path (the API's awaited GETs) answers 503 while away and serves after;
* a request that meets a database taking no connection in time is refused after the gate's
  own short wait for a verdict, not libpq's connect timeout; the probe then closes the gate;
* while the database is away a pooled read is refused at once with `DatabaseUnavailable`,
  not after the pool's wait times the library's ten retries; it serves again within about a
  second of the database's return, without reopening anything;
* after fault upon fault, a write is in the views within the read-your-writes timeout: the
  projection runners' restart delay starts afresh once they are healthy again (it used to
  grow with every fault, up to 10 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory
from fastapi.testclient import TestClient
from psycopg_pool import PoolTimeout

from ledger.api.app import create_app
from ledger.api.problems import outage_problem
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings, load_settings
from ledger.keys.dev_tokens import mint_token
from ledger.persistence.async_reads import AsyncReads
from ledger.persistence.gate import (
    UNREACHABLE,
    VERDICT_S,
    DatabaseGate,
    DatabaseUnavailable,
    is_connection_failure,
    is_disk_full,
)
from ledger.persistence.pools import GatedPostgresDatastore
from ledger.persistence.url import DatabaseURL
from tests.api.conftest import start
from tests.faults.cluster import Cluster, free_port

pytestmark = pytest.mark.faults
FAULTS = 6  # the issue saw views 10 s late after six


def test_only_failures_of_the_connection_close_the_gate() -> None:
    assert is_connection_failure(PoolTimeout("no connection in 1 s"))
    assert is_connection_failure(psycopg.OperationalError("server closed the connection"))
    assert is_connection_failure(psycopg.errors.AdminShutdown("terminating connection"))
    assert is_connection_failure(psycopg.errors.CannotConnectNow("the database is starting up"))
    assert not is_connection_failure(psycopg.errors.LockNotAvailable("lock timeout"))
    assert not is_connection_failure(psycopg.errors.DiskFull("could not extend file"))
    assert not is_connection_failure(ValueError("not a database error"))


def test_a_busy_pool_is_not_answered_as_an_unreachable_database() -> None:
    status, slug, _, detail = outage_problem(PoolTimeout("couldn't get a connection"))
    assert (status, slug) == (503, "unavailable")
    assert "no database connection was free in time" in detail and UNREACHABLE not in detail
    away = outage_problem(psycopg.OperationalError("connection refused"))
    assert away[0] == 503 and UNREACHABLE in away[3]


def test_a_full_disk_is_recognised_through_the_chain_of_causes() -> None:
    wrapped = RuntimeError("insert failed")
    wrapped.__cause__ = psycopg.errors.DiskFull("could not extend file: No space left on device")
    assert is_disk_full(wrapped)
    assert is_disk_full(RuntimeError("database or disk is full"))  # SQLite's SQLITE_FULL
    assert not is_disk_full(psycopg.OperationalError("connection refused"))


def test_a_database_at_its_connection_limit_is_not_taken_for_away(
    cluster: Cluster, pg_url: str
) -> None:
    with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
        conn.execute("CREATE ROLE capped LOGIN CONNECTION LIMIT 0")
    try:
        url = DatabaseURL.parse(pg_url.replace("postgres@", "capped@"))
        gate = DatabaseGate(url.conninfo(), connect_timeout_s=2)
        assert gate.probe() is None  # "too many connections": it answers, it is only full
        stopped = DatabaseGate({**url.conninfo(), "port": free_port()}, connect_timeout_s=2)
        assert stopped.probe() is not None  # nobody listening: away
    finally:
        with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
            conn.execute("DROP ROLE capped")


def test_a_database_taking_no_connection_in_time_is_refused_before_libpq_gives_up() -> None:
    # a listener that takes the connection and never answers: libpq would wait its 2 s
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        gate = DatabaseGate(
            {"host": "127.0.0.1", "port": port, "user": "u", "password": "", "dbname": "d"},
            connect_timeout_s=2,
        )
        with pytest.raises(DatabaseUnavailable) as raised:
            gate.suspect(psycopg.OperationalError("server closed the connection"))
        assert raised.value.cause == f"no connection within {VERDICT_S} s"
        assert not gate.is_down  # this request alone: the probe goes on and decides
        deadline = time.monotonic() + 30
        while not gate.is_down:  # libpq gives up (its connect timeout): the gate closes
            assert time.monotonic() < deadline, "the probe never gave its verdict"
            time.sleep(0.05)
        with pytest.raises(DatabaseUnavailable) as refused:
            gate.check()  # refused at once from now on, until a probe answers
        assert refused.value.cause == "connection timeout expired"


@pytest.fixture
def settings(pg_url: str) -> Settings:
    return load_settings(database_url=pg_url, jwt_secret="x" * 40, unsafe_skip_issuer_audience=True)


@pytest.fixture
def system(settings: Settings) -> Iterator[LedgerSystem]:
    system = bootstrap(settings, run_projections=True)
    yield system
    system.close()


def timed(read: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result = read()
    except Exception as e:
        result = e
    return time.monotonic() - started, result


@pytest.mark.slow
def test_a_pool_refuses_at_once_while_away_and_serves_soon_after_the_return(
    cluster: Cluster, settings: Settings
) -> None:
    factory = InfrastructureFactory.construct(env=settings.events_url.library_env())
    datastore = factory.datastore  # type: ignore[attr-defined]
    assert isinstance(datastore, GatedPostgresDatastore)

    def read() -> object:
        with datastore.get_connection() as conn:
            return conn.execute("SELECT 1").fetchone()

    try:
        assert read() == {"?column?": 1}
        cluster.stop("immediate")
        first, error = timed(read)  # finds the broken connection, probes, closes the gate
        assert isinstance(error, DatabaseUnavailable), error
        later, error = timed(read)
        assert isinstance(error, DatabaseUnavailable), error
        assert "refused" in error.cause or "No such file" in error.cause, error.cause
        assert first < 2.0  # the library alone: the pool's wait times ten attempts
        assert later < 0.05  # refused at once, no I/O
        cluster.start()
        back = time.monotonic()
        while isinstance(timed(read)[1], Exception):
            assert time.monotonic() - back < 3.0, "not serving 3 s after the return"
            time.sleep(0.05)
    finally:
        cluster.start()
        factory.close()


@pytest.mark.slow
def test_views_keep_up_with_writes_after_fault_upon_fault(
    cluster: Cluster, system: LedgerSystem
) -> None:
    for fault in range(FAULTS):
        cluster.restart("immediate")
        deadline = time.monotonic() + 10
        while True:  # the command side serves again (the gate reopens)
            try:
                outcome = system.ledger.start_session(
                    tenant="acme", user_id="u", session_id=f"after-fault-{fault}"
                )
                break
            except DatabaseUnavailable:
                assert time.monotonic() < deadline, "the command side did not recover"
                time.sleep(0.05)
        # read-your-writes within the API's timeout (2 s), fault after fault
        caught_up = system.wait(outcome.position, timeout=2.0)
        assert caught_up, f"views late after fault {fault + 1}"  # with the old delays: fault 5


@pytest.mark.slow
def test_an_awaited_read_answers_503_while_the_database_is_away(
    cluster: Cluster, settings: Settings
) -> None:
    """The async read path (`ledger.persistence.async_reads`) behind the same gate."""
    system = bootstrap(settings, run_projections=True)
    read = {"Authorization": f"Bearer {mint_token(settings, sub='admin', scope='sessions:read')}"}
    ingest = mint_token(settings, sub="idp", scope="sessions:ingest")
    path = "/v1/users/alice/sessions"
    try:
        with TestClient(create_app(settings, system=system)) as client:
            start(client, {"Authorization": f"Bearer {ingest}"}, "s-1")
            reads = system.active.async_reads
            assert isinstance(reads, AsyncReads)
            assert client.get(path, headers=read).status_code == 200
            cluster.stop("immediate")
            try:
                for _ in range(3):  # the first meets the broken connection; then refused at once
                    away = client.get(path, headers=read)
                    assert away.status_code == 503, away.text
                    assert away.headers["content-type"] == "application/problem+json"
                    assert away.json()["title"] == "Service unavailable"
                deadline = time.monotonic() + 15
                while not reads.gate.is_down:  # the probe's verdict closes it
                    assert time.monotonic() < deadline, "the gate never closed"
                    time.sleep(0.05)
            finally:
                cluster.start()
            deadline = time.monotonic() + 15
            while client.get(path, headers=read).status_code != 200:
                assert time.monotonic() < deadline, "not serving 15 s after the return"
                time.sleep(0.1)
            assert [s["id"] for s in client.get(path, headers=read).json()["sessions"]] == ["s-1"]
    finally:
        cluster.start()
        system.close()
