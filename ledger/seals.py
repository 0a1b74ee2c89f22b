"""Tamper seals: a hash chain over the event log, kept in the ledger's own database.

A seal covers the notifications after the previous seal up to a head position. It lists each
covered event (position, aggregate id, version, SHA-256 of topic and state) and hashes that
list together with the previous seal's hash. Once sealed, an event that is edited, deleted,
moved to another position, or a row inserted among sealed ones, no longer matches its seal:
`ledger-replay verify-seals` (replay_tools/seal_check.py) finds and names it. The seal table
refuses UPDATE and DELETE (triggers on SQLite and PostgreSQL, TRUNCATE too on PostgreSQL).
`LogStore` is the plain-SQL, read-mostly access to the events table that seals hash and the
replay tools read. Tests: tests/replay/test_seals.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import psycopg

from ledger.errors import ConfigError
from ledger.persistence.postgres import advisory_lock_key, append_only_statements
from ledger.persistence.schema import events_table, pg_connect
from ledger.persistence.url import DatabaseURL

SEAL_TABLE = "ledger_seals"
GENESIS = "0" * 64
MAX_PER_SEAL = 10_000
ENTRY = struct.Struct(">Q16sQ32s")  # position, aggregate id, version, digest
_HEADER = struct.Struct(">QQQQ")  # seq, after, upto, count
_SEAL_COLUMNS = (
    "seq, after_position, last_position, event_count, sealed_at, prev_hash, entries, hash"
)
_SEAL_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} (seq {big} PRIMARY KEY, after_position {big} NOT NULL,"
    " last_position {big} NOT NULL, event_count {big} NOT NULL, sealed_at TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL, entries {blob} NOT NULL, hash TEXT NOT NULL)"
)
_SQLITE_GUARDS = [
    f"CREATE TRIGGER IF NOT EXISTS {SEAL_TABLE}_no_{op.lower()} BEFORE {op} ON {SEAL_TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'ledger seals are append-only'); END"
    for op in ("UPDATE", "DELETE")
]


class CorruptEventError(ValueError):
    """A stored event that cannot be read as the ledger wrote it (the database was edited)."""

    def __init__(self, position: int, problem: str) -> None:
        super().__init__(f"the event at log position {position} is corrupt: {problem}")
        self.position = position


class EventRow(NamedTuple):
    """One stored event as the events table holds it."""

    position: int
    aggregate_id: UUID
    version: int
    topic: str
    state: bytes

    def entry(self) -> SealEntry:
        """What a seal records of this event."""
        digest = hashlib.sha256(self.topic.encode() + b"\x00" + self.state).digest()
        return SealEntry(self.position, self.aggregate_id, self.version, digest)


class SealEntry(NamedTuple):
    """A sealed event: where it was, whose it was, and the digest of its content."""

    position: int
    aggregate_id: UUID
    version: int
    digest: bytes

    def pack(self) -> bytes:
        """Fixed-size binary form (64 bytes)."""
        return ENTRY.pack(self.position, self.aggregate_id.bytes, self.version, self.digest)


@dataclass(frozen=True)
class Seal:
    """One link of the chain: the events in (after, upto] and the previous link's hash."""

    seq: int
    after: int
    upto: int
    count: int
    sealed_at: str
    prev_hash: str
    entries: bytes = field(repr=False)
    hash: str = ""

    def expected_hash(self) -> str:
        """SHA-256 over the previous seal's hash, this seal's header and its entries."""
        h = hashlib.sha256(b"ledger-seal-v1\n" + bytes.fromhex(self.prev_hash))
        h.update(_HEADER.pack(self.seq, self.after, self.upto, self.count))
        h.update(self.sealed_at.encode() + self.entries)
        return h.hexdigest()

    def entry_list(self) -> list[SealEntry]:
        """The sealed events, in position order."""
        return [
            SealEntry(pos, UUID(bytes=oid), ver, digest)
            for pos, oid, ver, digest in ENTRY.iter_unpack(self.entries)
        ]


class LogStore:
    """The events table and the seal table of one ledger database, through plain SQL."""

    def __init__(self, url: DatabaseURL, conn: Any) -> None:
        self.url, self.conn = url, conn
        self.pg = url.is_postgres
        self.nid = "notification_id" if self.pg else "rowid"
        table = events_table(url)
        self.events = f'"{url.schema}"."{table}"' if self.pg else table
        self.seals = f'"{url.schema}"."{SEAL_TABLE}"' if self.pg else SEAL_TABLE
        self.has_events = self._exists(table)

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

    def _exists(self, table: str) -> bool:
        if self.pg:
            row = self.conn.execute("SELECT to_regclass(%s)", (f"{self.url.schema}.{table}",))
            return row.fetchone()[0] is not None
        found = self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,))
        return found.fetchone() is not None

    def _q(self, statement: str) -> str:
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
        return self._q(
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

    # ------------------------------------------------------------- the seals

    def create_seal_table(self) -> None:
        """Create the seal table and its append-only guard, unless it exists (then a role
        with only SELECT and INSERT on it can seal)."""
        if self._exists(SEAL_TABLE):
            return
        types = (
            {"big": "bigint", "blob": "bytea"} if self.pg else {"big": "INTEGER", "blob": "BLOB"}
        )
        statements: list[Any] = [_SEAL_DDL.format(table=self.seals, **types)]
        if self.pg:
            statements += append_only_statements(self.url.schema, SEAL_TABLE)
        else:
            statements += _SQLITE_GUARDS
        with self.conn.transaction() if self.pg else nullcontext():
            for statement in statements:
                self.conn.execute(statement)

    def seal_list(self, *, last_only: bool = False) -> Iterator[Seal]:
        """The seals in chain order (or only the last one); none when there is no seal table."""
        if not self._exists(SEAL_TABLE):
            return
        order = "DESC LIMIT 1" if last_only else ""
        listing = f"SELECT seq FROM {self.seals} ORDER BY seq {order}"
        seqs = [r[0] for r in self.conn.execute(listing)]
        for seq in seqs:  # one seal in memory at a time
            statement = self._q(f"SELECT {_SEAL_COLUMNS} FROM {self.seals} WHERE seq = ?")
            r = self.conn.execute(statement, (seq,)).fetchone()
            yield Seal(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7])

    def append_seal(self, seal: Seal) -> bool:
        """Insert `seal`; False when another sealer took its place in the chain first."""
        values = (seal.seq, seal.after, seal.upto, seal.count, seal.sealed_at)
        params = (*values, seal.prev_hash, seal.entries, seal.hash)
        statement = self._q(f"INSERT INTO {self.seals} ({_SEAL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)")
        try:
            self.conn.execute(statement, params)
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            return False
        return True


def _sqlite_connect(url: DatabaseURL, setting: str) -> sqlite3.Connection:
    assert url.path is not None
    if not url.path.is_file():
        raise ConfigError(setting, f"no ledger database at {url.path}")
    return sqlite3.connect(url.path, timeout=10, isolation_level=None)


def utc_stamp() -> str:
    """The current time as an RFC 3339 UTC string."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def seal(
    store: LogStore,
    *,
    max_per_seal: int = MAX_PER_SEAL,
    stamp: Callable[[], str] = utc_stamp,
    progress: Callable[[int], None] | None = None,
) -> list[Seal]:
    """Seal every event after the last seal, up to the head, in seals of `max_per_seal`.

    Stops early (returning what it appended) when another sealer extends the chain first.
    """
    store.create_seal_table()
    last = next(store.seal_list(last_only=True), None)
    seq, after, prev = (last.seq, last.upto, last.hash) if last else (0, 0, GENESIS)
    head = store.head()
    made: list[Seal] = []
    while after < head:
        rows = store.event_page(after, head, max_per_seal)
        if not rows:
            break
        upto = rows[-1].position if len(rows) == max_per_seal else head
        link = _link(seq + len(made) + 1, after, upto, prev, rows=rows, stamp=stamp())
        if not store.append_seal(link):
            break
        made.append(link)
        after, prev = upto, link.hash
        if progress is not None:
            progress(len(rows))
    return made


def _link(seq: int, after: int, upto: int, prev: str, *, rows: list[EventRow], stamp: str) -> Seal:
    packed = b"".join(row.entry().pack() for row in rows)
    link = Seal(seq, after, upto, len(rows), stamp, prev, packed)
    return replace(link, hash=link.expected_hash())


def seal_new_events(url: DatabaseURL) -> list[Seal]:
    """Seal the events recorded since the last seal (the sealer worker runs this periodically)."""
    with LogStore.open(url) as store:
        return seal(store)
