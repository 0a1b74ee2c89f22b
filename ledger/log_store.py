"""Raw access to the event log: the events table read through plain SQL, as stored.

`LogStore` is what the tamper seals hash and the replay tools read: positions, aggregate ids,
versions, topics and the stored bytes, never decoded through the application. A row that
cannot be read as the ledger wrote it raises `CorruptEventError` naming its position.
Tests: tests/replay/test_seals.py, tests/replay/test_cli.py, tests/replay/test_check.py,
tests/replay/test_export.py.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from typing import Any, NamedTuple
from uuid import UUID

from ledger.errors import ConfigError
from ledger.persistence.postgres import advisory_lock_key
from ledger.persistence.schema import events_table, pg_connect
from ledger.persistence.url import DatabaseURL


class CorruptEventError(ValueError):
    """A stored event that cannot be read as the ledger wrote it (the database was edited)."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"the event at log position {position} is corrupt: {problem}")
        self.position = position


_HEX32 = re.compile("[0-9a-f]{32}")
ExportRow = tuple[int, str, int, str, bytes]  # position, aggregate id text, version, topic, state


class EventRow(NamedTuple):
    """One stored event as the events table holds it."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes


class LogStore:
    """The events table of one ledger database, through plain SQL (read-mostly)."""

    def __init__(self, url: DatabaseURL, conn: Any) -> None:
        self.url, self.conn = url, conn
        self.pg = url.is_postgres
        self.nid = "notification_id" if self.pg else "rowid"
        table = events_table(url)
        self.events = f'"{url.schema}"."{table}"' if self.pg else table
        self.has_events = self.exists(table)

    @classmethod
    @contextmanager
    def open(cls, url: DatabaseURL, *, setting: str = "LEDGER_DATABASE_URL") -> Iterator[LogStore]:
        """Connect (ConfigError naming `setting` when the database cannot be used)."""
        with ExitStack() as stack:
            if url.is_postgres:
                conn: Any = stack.enter_context(pg_connect(url, setting=setting, autocommit=True))
            else:
                conn = stack.enter_context(closing(_sqlite_connect(url, setting)))
            try:
                store = cls(url, conn)
            except sqlite3.DatabaseError as e:
                raise ConfigError(
                    setting, f"{url.path} is not a usable SQLite database: {e}"
                ) from None
            yield store

    def exists(self, table: str) -> bool:
        """True when `table` exists in the ledger's schema."""
        if self.pg:
            row = self.conn.execute("SELECT to_regclass(%s)", (f"{self.url.schema}.{table}",))
            return row.fetchone()[0] is not None
        found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,))
        return found.fetchone() is not None

    def q(self, statement: str) -> str:
        """`statement` with the placeholders of this database."""
        return statement.replace("?", "%s") if self.pg else statement

    def _key(self, aggregate_id: UUID) -> Any:
        return aggregate_id if self.pg else aggregate_id.hex

    def _row(self, r: Sequence[Any]) -> EventRow:
        state = r[4].encode() if isinstance(r[4], str) else bytes(r[4] or b"")  # SQLite: any type
        try:
            oid = r[1] if isinstance(r[1], UUID) else UUID(hex=str(r[1]))
        except ValueError:
            raise CorruptEventError(int(r[0]), f"aggregate id {r[1]!r} is not a UUID") from None
        return EventRow(int(r[0]), oid, int(r[2]), str(r[3] or ""), state)

    # ------------------------------------------------------------ the events

    def head(self) -> int:
        """The last committed position; on PostgreSQL waits for writers in flight."""
        if not self.has_events:
            return 0
        statement = f"SELECT MAX({self.nid}) FROM {self.events}"
        if not self.pg:
            return int(self.conn.execute(statement).fetchone()[0] or 0)
        key = advisory_lock_key(self.url.schema, events_table(self.url))
        with self.conn.transaction():
            self.conn.execute("SET LOCAL lock_timeout = '30s'")
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            return int(self.conn.execute(statement).fetchone()[0] or 0)

    def _select(self, where: str, order: str = "") -> str:
        return self.q(
            f"SELECT {self.nid}, originator_id, originator_version, topic, state"
            f" FROM {self.events} WHERE {where} {order}"
        )

    def event_rows(self, after: int = 0, upto: int | None = None) -> Iterator[EventRow]:
        """Events with after < position <= upto in position order, streamed (one snapshot)."""
        if not self.has_events:
            return
        where, params = f"{self.nid} > ?", [after]
        if upto is not None:
            where, params = f"{where} AND {self.nid} <= ?", [after, upto]
        statement = self._select(where, f"ORDER BY {self.nid}")
        if not self.pg:
            yield from map(self._row, self.conn.execute(statement, params))
            return
        with self.conn.transaction(), self.conn.cursor(name="ledger_log") as cursor:
            cursor.itersize = 2000
            cursor.execute(statement, params)
            yield from map(self._row, cursor)

    def export_batches(
        self, after: int = 0, upto: int | None = None, size: int = 1000
    ) -> Iterator[list[ExportRow]]:
        """`event_rows` in lists of `size`, as plain tuples with the aggregate id as text.

        The same rows, values and errors as `event_rows` (the id as `str(UUID)`), for bulk
        readers: no UUID objects; on PostgreSQL a binary cursor, the id's text and the NULL
        topics and states as empty made by the server.
        """
        if not self.has_events:
            return
        where, params = f"{self.nid} > ?", [after]
        if upto is not None:
            where, params = f"{where} AND {self.nid} <= ?", [after, upto]
        if not self.pg:
            cursor = self.conn.execute(self._select(where, f"ORDER BY {self.nid}"), params)
            ids: dict[Any, str] = {}  # stored id -> its text, checked once
            while rows := cursor.fetchmany(size):
                positions, stored, versions, topics, states = zip(*rows, strict=True)
                if len(ids) > 100_000:
                    ids.clear()
                usual = {*map(type, states)} == {bytes} and {*map(type, topics)} == {str}
                if usual and {*map(type, versions)} == {int} and self._learn_ids(stored, ids):
                    texts = map(ids.__getitem__, stored)
                    yield list(zip(positions, texts, versions, topics, states, strict=True))
                else:  # a value of another type, or an id that is not a UUID: row by row
                    yield [self._export_row(r, ids) for r in rows]
            return
        statement = self.q(
            f"SELECT {self.nid}, originator_id::text, originator_version, COALESCE(topic, ''),"
            f" COALESCE(state, ''::bytea) FROM {self.events} WHERE {where} ORDER BY {self.nid}"
        )
        with self.conn.transaction(), self.conn.cursor(name="ledger_export", binary=True) as cur:
            cur.execute(statement, params)
            while found := cur.fetchmany(size):
                yield found

    @staticmethod
    def _learn_ids(stored: Sequence[Any], ids: dict[Any, str]) -> bool:
        """Add the text of each new stored id to `ids`; False if one is not a UUID's hex."""
        for new in {*stored}.difference(ids):
            if type(new) is str and _HEX32.fullmatch(new):  # str(UUID(hex=new)), cheaper
                ids[new] = f"{new[:8]}-{new[8:12]}-{new[12:16]}-{new[16:20]}-{new[20:]}"
                continue
            try:
                ids[new] = str(UUID(hex=str(new)))
            except ValueError:
                return False
        return True

    def _export_row(self, r: Sequence[Any], ids: dict[Any, str]) -> ExportRow:
        row = self._row(r)
        ids[r[1]] = text = str(row.aggregate_id)
        return row.position, text, row.version, row.topic, row.state

    def rows_by_aggregate(self, upto: int) -> Iterator[EventRow]:
        """Events with position <= upto, one aggregate after another in version order, streamed.

        The order of the events table's primary key (aggregate id, version), so each
        aggregate's events arrive together and a reader keeps one aggregate in memory.
        """
        if not self.has_events:
            return
        order = "ORDER BY originator_id, originator_version"
        statement = self._select(f"{self.nid} <= ?", order)
        if not self.pg:
            yield from map(self._row, self.conn.execute(statement, [upto]))
            return
        with self.conn.transaction(), self.conn.cursor(name="ledger_by_aggregate") as cursor:
            cursor.itersize = 2000
            cursor.execute(statement, [upto])
            yield from map(self._row, cursor)

    def event_page(self, after: int, upto: int, limit: int) -> list[EventRow]:
        """At most `limit` events with after < position <= upto, in position order."""
        if not self.has_events:
            return []
        where = f"{self.nid} > ? AND {self.nid} <= ?"
        statement = self._select(where, f"ORDER BY {self.nid} LIMIT ?")
        return list(map(self._row, self.conn.execute(statement, (after, upto, limit))))

    def aggregate_rows(self, ids: Sequence[UUID], *, version: int | None = None) -> list[EventRow]:
        """Every event of these aggregates (or only their `version`), in position order."""
        rows: list[EventRow] = []
        for start in range(0, len(ids) if self.has_events else 0, 500):
            chunk: list[Any] = [self._key(i) for i in ids[start : start + 500]]
            where = f"originator_id IN ({', '.join('?' * len(chunk))})"
            if version is not None:
                where, chunk = f"{where} AND originator_version = ?", [*chunk, version]
            rows += map(self._row, self.conn.execute(self._select(where), chunk))
        return sorted(rows)

    def locate(self, aggregate_id: UUID, version: int) -> EventRow | None:
        """Where the event (aggregate, version) is now, if it exists."""
        found = self.aggregate_rows([aggregate_id], version=version)
        return found[0] if found else None


def _sqlite_connect(url: DatabaseURL, setting: str) -> sqlite3.Connection:
    assert url.path is not None
    if not url.path.is_file():
        raise ConfigError(setting, f"no ledger database at {url.path}")
    return sqlite3.connect(url.path, timeout=10, isolation_level=None)
