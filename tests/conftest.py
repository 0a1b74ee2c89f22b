"""Shared fixtures: real SQLite files and a real PostgreSQL, a controllable clock.

Backends: every test using `backend` runs on SQLite and, when `LEDGER_TEST_POSTGRES_URL` is
set, on PostgreSQL too (marker `postgres`). With `LEDGER_TEST_REQUIRE_POSTGRES=1` (CI) a missing
server fails the run instead of skipping. The PostgreSQL run uses one fresh database per test
session and one fresh schema per test.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, settings

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings, load_settings
from ledger.persistence.url import DatabaseURL

# Every health check is on but `too_slow` (storage examples are slow by nature): in particular
# `function_scoped_fixture`, which catches examples sharing a database through a fixture.
settings.register_profile(
    "ci",
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=400,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("LEDGER_TEST_REQUIRE_POSTGRES") == "1"
_schemas = itertools.count()


class FakeClock:
    """A clock the test moves by hand (UTC, timezone-aware)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """A fresh FakeClock at 2026-03-01T12:00Z."""
    return FakeClock()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[DatabaseURL | None]:
    """A fresh PostgreSQL database for this test session (None when not configured)."""
    if not POSTGRES_URL:
        yield None
        return
    admin = DatabaseURL.parse(POSTGRES_URL, setting="LEDGER_TEST_POSTGRES_URL")
    name = f"ledger_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(**admin.conninfo(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        if REQUIRE_POSTGRES:
            pytest.fail(f"LEDGER_TEST_POSTGRES_URL is set but unusable: {e}")
        yield None
        return
    yield DatabaseURL(
        kind="postgresql",
        host=admin.host,
        port=admin.port,
        user=admin.user,
        password=admin.password,
        dbname=name,
    )
    with psycopg.connect(**admin.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(db: DatabaseURL, schema: str) -> str:
    auth = db.user + (f":{db.password}" if db.password else "")
    return f"postgresql://{auth}@{db.host}:{db.port}/{db.dbname}?schema={schema}"


def fresh_postgres_url(db: DatabaseURL) -> str:
    """A URL of a new, empty schema in the test session's database (one per call)."""
    return _pg_url(db, f"t{next(_schemas)}_{uuid.uuid4().hex[:8]}")


def settings_on(url: str, /, **overrides: object) -> Settings:
    """Settings on database `url` as every test uses them; keyword arguments override fields
    (`database_url` included)."""
    values: dict[str, object] = {
        "database_url": url,
        "jwt_secret": "test-secret-" + "x" * 40,
        "jwt_issuer": "https://idp.example.test",  # required outside development mode
        "jwt_audience": "session-ledger",
        "group_commit": False,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once per database."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, postgres_database: DatabaseURL | None) -> str:
    """A fresh, empty database of the current backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/ledger.sqlite3"
    if postgres_database is None:
        if REQUIRE_POSTGRES:
            pytest.fail("LEDGER_TEST_REQUIRE_POSTGRES=1 but LEDGER_TEST_POSTGRES_URL is not usable")
        pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
    return fresh_postgres_url(postgres_database)


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings on the current test database; keyword arguments override fields."""

    def make(**overrides: object) -> Settings:
        return settings_on(database_url, **overrides)

    return make


@pytest.fixture
def system(make_settings: Callable[..., Settings], clock: FakeClock) -> Iterator[LedgerSystem]:
    """A bootstrapped ledger with projections running in this process."""
    system = bootstrap(make_settings(), clock=clock, run_projections=True)
    yield system
    system.close()


@pytest.fixture
def write_only(make_settings: Callable[..., Settings], clock: FakeClock) -> Iterator[LedgerSystem]:
    """A bootstrapped ledger without projections (command side only)."""
    system = bootstrap(make_settings(), clock=clock, run_projections=False)
    yield system
    system.close()
