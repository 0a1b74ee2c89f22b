"""Tamper seals: a hash chain over the event log, kept in the ledger's own database.

A seal covers the notifications after the previous seal up to a head position. It lists each
covered event (position, aggregate id, version, SHA-256 of topic and state) and hashes that
list together with the previous seal's hash. Once sealed, an event that is edited, deleted,
moved to another position, or a row inserted among sealed ones, no longer matches its seal:
`ledger-replay verify-seals` (replay_tools/seal_check.py) finds and names it. The seal table
refuses UPDATE and DELETE (triggers on SQLite and PostgreSQL, TRUNCATE too on PostgreSQL).
The events are read through `ledger.log_store.LogStore`. Tests: tests/replay/test_seals.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

import psycopg

from ledger.log_store import EventRow, LogStore
from ledger.persistence.postgres import append_only_statements
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


class SealEntry(NamedTuple):
    """A sealed event: where it was, whose it was, and the digest of its content."""

    position: int
    aggregate_id: UUID
    version: int
    digest: bytes

    def pack(self) -> bytes:
        """Fixed-size binary form (64 bytes)."""
        return ENTRY.pack(self.position, self.aggregate_id.bytes, self.version, self.digest)


def entry_of(row: EventRow) -> SealEntry:
    """What a seal records of an event."""
    digest = hashlib.sha256(row.topic.encode() + b"\x00" + row.state).digest()
    return SealEntry(row.position, row.aggregate_id, row.version, digest)


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


def _seals(store: LogStore) -> str:
    return f'"{store.url.schema}"."{SEAL_TABLE}"' if store.pg else SEAL_TABLE


def create_seal_table(store: LogStore) -> None:
    """Create the seal table and its append-only guard, unless it exists (then a role
    with only SELECT and INSERT on it can seal)."""
    if store.exists(SEAL_TABLE):
        return
    types = {"big": "bigint", "blob": "bytea"} if store.pg else {"big": "INTEGER", "blob": "BLOB"}
    statements: list[Any] = [_SEAL_DDL.format(table=_seals(store), **types)]
    if store.pg:
        statements += append_only_statements(store.url.schema, SEAL_TABLE)
    else:
        statements += _SQLITE_GUARDS
    with store.conn.transaction() if store.pg else nullcontext():
        for statement in statements:
            store.conn.execute(statement)


def seal_list(store: LogStore, *, last_only: bool = False) -> Iterator[Seal]:
    """The seals in chain order (or only the last one); none when there is no seal table."""
    if not store.exists(SEAL_TABLE):
        return
    order = "DESC LIMIT 1" if last_only else ""
    listing = f"SELECT seq FROM {_seals(store)} ORDER BY seq {order}"
    seqs = [r[0] for r in store.conn.execute(listing)]
    for seq in seqs:  # one seal in memory at a time
        statement = store.q(f"SELECT {_SEAL_COLUMNS} FROM {_seals(store)} WHERE seq = ?")
        r = store.conn.execute(statement, (seq,)).fetchone()
        yield Seal(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7])


def append_seal(store: LogStore, seal: Seal) -> bool:
    """Insert `seal`; False when another sealer took its place in the chain first."""
    values = (seal.seq, seal.after, seal.upto, seal.count, seal.sealed_at)
    params = (*values, seal.prev_hash, seal.entries, seal.hash)
    statement = store.q(f"INSERT INTO {_seals(store)} ({_SEAL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)")
    try:
        store.conn.execute(statement, params)
    except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
        return False
    return True


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
    create_seal_table(store)
    last = next(seal_list(store, last_only=True), None)
    seq, after, prev = (last.seq, last.upto, last.hash) if last else (0, 0, GENESIS)
    head = store.head()
    made: list[Seal] = []
    while after < head:
        rows = store.event_page(after, head, max_per_seal)
        if not rows:
            break
        upto = rows[-1].position if len(rows) == max_per_seal else head
        link = _link(seq + len(made) + 1, after, upto, prev, rows=rows, stamp=stamp())
        if not append_seal(store, link):
            break
        made.append(link)
        after, prev = upto, link.hash
        if progress is not None:
            progress(len(rows))
    return made


def _link(seq: int, after: int, upto: int, prev: str, *, rows: list[EventRow], stamp: str) -> Seal:
    packed = b"".join(entry_of(row).pack() for row in rows)
    link = Seal(seq, after, upto, len(rows), stamp, prev, packed)
    return replace(link, hash=link.expected_hash())


def seal_new_events(url: DatabaseURL) -> list[Seal]:
    """Seal the events recorded since the last seal (the sealer worker runs this periodically)."""
    with LogStore.open(url) as store:
        return seal(store)
