"""The library's own recorder test cases, run against the ledger's recorders.

SQLite: `LedgerSQLiteApplicationRecorder` (the library's recorder plus our polling
subscription, so the subscription case runs too). PostgreSQL: `LedgerPostgresApplicationRecorder`
(advisory writers' lock instead of LOCK TABLE, append-only trigger).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests import persistence as library_cases

from ledger.persistence.postgres import LedgerPostgresApplicationRecorder
from ledger.persistence.sqlite import LedgerSQLiteApplicationRecorder
from ledger.persistence.url import DatabaseURL
from tests.conftest import REQUIRE_POSTGRES


@pytest.fixture(autouse=True)
def _databases(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    request.cls.tmp_path = tmp_path
    if getattr(request.cls, "needs_postgres", False):
        db = request.getfixturevalue("postgres_database")
        if db is None:
            if REQUIRE_POSTGRES:
                pytest.fail("PostgreSQL required but not configured")
            pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
        request.cls.db = db


class SQLiteCase:
    tmp_path: Path

    def create_recorder(self) -> LedgerSQLiteApplicationRecorder:
        datastore = SQLiteDatastore(db_name=str(self.tmp_path / f"{uuid.uuid4().hex}.db"))
        recorder = LedgerSQLiteApplicationRecorder(datastore)
        recorder.poll_interval = 0.05
        recorder.create_table()
        return recorder


class TestSQLiteApplicationRecorder(SQLiteCase, library_cases.ApplicationRecorderTestCase[Any]):
    """The library's application recorder case, with the subscription case enabled."""

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestSQLiteNonInterleaving(SQLiteCase, library_cases.NonInterleavingNotificationIDsBaseCase):
    """Concurrent writers' notification ids do not interleave."""

    insert_num = 300


class PostgresCase:
    needs_postgres = True
    db: DatabaseURL

    def create_recorder(self) -> LedgerPostgresApplicationRecorder:
        schema = f"rec_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(**self.db.conninfo(), autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        datastore = PostgresDatastore(
            dbname=self.db.dbname,
            host=self.db.host,
            port=self.db.port,
            user=self.db.user,
            password=self.db.password,
            schema=schema,
            pool_size=4,
            max_overflow=4,
        )
        recorder = LedgerPostgresApplicationRecorder(datastore, events_table_name="events")
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestPostgresApplicationRecorder(PostgresCase, library_cases.ApplicationRecorderTestCase[Any]):
    """The library's application recorder case, subscription (LISTEN/NOTIFY) included."""

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


@pytest.mark.postgres
class TestPostgresNonInterleaving(
    PostgresCase, library_cases.NonInterleavingNotificationIDsBaseCase
):
    """The advisory lock serialises writers as well as the library's table lock."""

    insert_num = 300


@pytest.mark.postgres
class TestPostgresAppendOnly(PostgresCase):
    """UPDATE, DELETE and TRUNCATE of recorded events are refused."""

    def test_changes_to_recorded_events_are_refused(self) -> None:
        recorder = self.create_recorder()
        stored = StoredEvent(
            originator_id=uuid.uuid4(), originator_version=1, topic="t", state=b"{}"
        )
        recorder.insert_events([stored])
        table = f"{recorder.datastore.schema}.events"
        with psycopg.connect(**self.db.conninfo(), autocommit=True) as conn:
            for statement in (
                f"UPDATE {table} SET topic='x'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                    conn.execute(statement)
        assert len(recorder.select_events(stored.originator_id)) == 1
        recorder.create_table()  # idempotent: the trigger is not installed twice
