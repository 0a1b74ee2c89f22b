"""Fixtures of the fault tier: a throw-away PostgreSQL cluster of its own (never the machine's
main cluster), a fresh database per test, the ledger as a real process.

Without Debian's `initdb` the PostgreSQL fault tests skip, saying why; with
`LEDGER_TEST_REQUIRE_POSTGRES=1` (CI) they fail instead.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.faults.cluster import Cluster, initdb_binary
from tests.faults.harness import LedgerProcess

REQUIRE_POSTGRES = os.environ.get("LEDGER_TEST_REQUIRE_POSTGRES") == "1"
_databases = itertools.count()


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster in a temporary folder, on a free port, removed afterwards."""
    initdb = initdb_binary()
    if initdb is None:
        reason = "no /usr/lib/postgresql/*/bin/initdb: the PostgreSQL fault tests need one"
        if REQUIRE_POSTGRES:
            pytest.fail(reason)
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="ledger-faults-"))
    folder.chmod(0o755)  # the postgres user must reach its data folder
    cluster = Cluster(folder / "pg", bindir=initdb.parent)
    try:
        cluster.create()
    except Exception as e:
        e = RuntimeError(f"{e} {getattr(e, 'stderr', '')}")
        cluster.destroy()
        if REQUIRE_POSTGRES:
            pytest.fail(f"cannot create a throw-away PostgreSQL cluster: {e}")
        pytest.skip(f"cannot create a throw-away PostgreSQL cluster: {e}")
    yield cluster
    cluster.destroy()
    folder.rmdir()


@pytest.fixture
def pg_url(cluster: Cluster) -> str:
    """A fresh database on the throw-away cluster (which is up)."""
    cluster.wait_ready()
    name = f"ledger_{next(_databases)}"
    with psycopg.connect(cluster.admin_dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{cluster.port}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file."""
    return f"sqlite:///{tmp_path}/ledger.sqlite3"


StartLedger = Callable[..., LedgerProcess]


@pytest.fixture
def start_ledger(tmp_path: Path) -> Iterator[StartLedger]:
    """Start `ledger serve` on a database URL (ready when returned); stopped afterwards."""
    started: list[LedgerProcess] = []

    def start(database_url: str, **env: str) -> LedgerProcess:
        process = LedgerProcess(database_url, tmp_path / f"ledger-{len(started)}.log", **env)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()
