"""PostgreSQL recorder: the library's application recorder, append-only and insert-only.

* A trigger refuses UPDATE, DELETE and TRUNCATE on the events table (installed with the
  table, idempotently, and by `ledger db init`).
* Writers are serialised by a transaction-scoped advisory lock instead of the library's
  `LOCK TABLE ... IN EXCLUSIVE MODE`, which needs UPDATE/DELETE privilege: with the advisory
  lock a role with INSERT and SELECT only can record events. Commit order still equals
  notification-id order, so readers never skip a notification.
* A save is one statement: a server-side function takes the lock, NOTIFYs and inserts, in
  the statement's own transaction (one round trip instead of the library's pipeline of
  SET/LOCK/NOTIFY/INSERT/COMMIT; a fraction of the client CPU per command).
* Its subscription pulls once more right after LISTEN is in place (events committed between
  the first pull and the LISTEN would otherwise wait for the next NOTIFY: at the end of a
  burst, forever), and every `poll_interval` seconds as a safety net.
The library's recorder test cases run against it: tests/integration/test_recorders.py.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    StoredEvent,
    Subscription,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresSubscription,
)
from eventsourcing.utils import retry
from psycopg import sql

TRIGGER_FUNCTION = "ledger_refuse_change"
ROW_TRIGGER = "ledger_append_only"
TRUNCATE_TRIGGER = "ledger_no_truncate"


def advisory_lock_key(schema: str, table: str) -> int:
    """A stable 32-bit key for the writers' lock on `schema.table`."""
    return zlib.crc32(f"ledger-writers:{schema}.{table}".encode())


def append_only_statements(schema: str, table: str) -> list[sql.Composed]:
    """Idempotent DDL that makes `schema.table` refuse UPDATE, DELETE and TRUNCATE."""
    qualified = sql.Literal(f"{schema}.{table}")
    function = sql.SQL(
        "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS trigger "
        "LANGUAGE plpgsql AS $body$ BEGIN "
        "RAISE EXCEPTION 'the session ledger is append-only: % on % refused', "
        "TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; "
        "END $body$"
    ).format(schema=sql.Identifier(schema), function=sql.Identifier(TRIGGER_FUNCTION))
    triggers = sql.SQL(
        "DO $do$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = {row_name} "
        "AND tgrelid = {qualified}::regclass) THEN "
        "CREATE TRIGGER {row_trigger} BEFORE UPDATE OR DELETE ON {schema}.{table} "
        "FOR EACH ROW EXECUTE FUNCTION {schema}.{function}(); END IF; "
        "IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = {truncate_name} "
        "AND tgrelid = {qualified}::regclass) THEN "
        "CREATE TRIGGER {truncate_trigger} BEFORE TRUNCATE ON {schema}.{table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION {schema}.{function}(); END IF; "
        "END $do$"
    ).format(
        row_name=sql.Literal(ROW_TRIGGER),
        truncate_name=sql.Literal(TRUNCATE_TRIGGER),
        qualified=qualified,
        row_trigger=sql.Identifier(ROW_TRIGGER),
        truncate_trigger=sql.Identifier(TRUNCATE_TRIGGER),
        schema=sql.Identifier(schema),
        table=sql.Identifier(table),
        function=sql.Identifier(TRIGGER_FUNCTION),
    )
    return [function, triggers]


class LedgerPostgresApplicationRecorder(PostgresApplicationRecorder):
    """The library's recorder with the append-only guard and the advisory writers' lock."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = self.datastore.schema
        self.writers_lock_key = advisory_lock_key(schema, self.events_table_name)
        self.lock_table_statements = [
            sql.SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            sql.SQL("SELECT pg_advisory_xact_lock({0})").format(self.writers_lock_key),
        ]
        self.sql_create_statements.extend(append_only_statements(schema, self.events_table_name))
        self.insert_function = f"ledger_insert_{self.events_table_name}"[:63]
        self.sql_create_statements.append(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{kind}[]) "
                "RETURNS SETOF bigint LANGUAGE plpgsql AS $body$ BEGIN "
                "SET LOCAL lock_timeout = '{timeout}s'; "
                "PERFORM pg_advisory_xact_lock({key}); "
                "NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{table} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
                "RETURNING notification_id; "
                "END $body$"
            ).format(
                schema=sql.Identifier(schema),
                function=sql.Identifier(self.insert_function),
                kind=sql.Identifier(self.stored_event_type_name),
                timeout=self.datastore.lock_timeout,
                key=self.writers_lock_key,
                channel=sql.Identifier(self.channel_name),
                table=sql.Identifier(self.events_table_name),
            )
        )
        self.sql_insert_call = sql.SQL("SELECT * FROM {schema}.{function}(%s)").format(
            schema=sql.Identifier(schema), function=sql.Identifier(self.insert_function)
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Insert in one statement (lock, NOTIFY, INSERT ... RETURNING, commit)."""
        if not stored_events:
            return []
        rows = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_insert_call, (rows,), prepare=True)
            return [row[self.insert_function] for row in curs.fetchall()]

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        """LISTEN/NOTIFY, without the start-up gap; see `LedgerPostgresSubscription`."""
        return LedgerPostgresSubscription(recorder=self, gt=gt, topics=topics)


class LedgerPostgresSubscription(PostgresSubscription):
    """The library's LISTEN/NOTIFY subscription, with a pull after LISTEN and a slow poll."""

    poll_interval = 2.0

    def _listen(self) -> None:
        try:
            with self._recorder.datastore.get_connection() as conn:
                conn.execute(
                    sql.SQL("LISTEN {0}").format(sql.Identifier(self._recorder.channel_name))
                )
                self._has_been_notified.set()  # catch what committed before LISTEN took effect
                last_poll = time.monotonic()
                while not self._has_been_stopped and not self._thread_error:
                    for _ in conn.notifies(timeout=0.1, stop_after=1):
                        self._has_been_notified.set()
                    if time.monotonic() - last_poll >= self.poll_interval:
                        self._has_been_notified.set()
                        last_poll = time.monotonic()
        except BaseException as e:
            if self._thread_error is None:
                self._thread_error = e
            self.stop()
