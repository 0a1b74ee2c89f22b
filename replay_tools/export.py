"""`export`: the raw events for a SIEM or an auditor, as JSON Lines or CSV, in constant memory.

Rows stream from one read of the events table (a server-side cursor on PostgreSQL) and are
written as they come; each event is attributed to its tenant, user and session through a
bounded cache of aggregates' first events (looked up in batches on a miss), so memory does
not grow with the log. `data` is the event's stored state, lossless, with times as RFC 3339
UTC strings. Measured by bench/export_memory.py. Tests: tests/replay/test_export.py.
"""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, BinaryIO
from uuid import UUID

import orjson

from ledger.log_store import CorruptEventError, EventRow, LogStore

CSV_COLUMNS = [
    "position", "recorded_at", "time", "tenant", "user_id", "session_id", "event",
    "aggregate_id", "version", "reason", "actor", "cause", "ip", "data",
]  # fmt: skip
Identity = tuple[str | None, str | None, str | None]  # tenant, user id, session id


@dataclass(frozen=True)
class ExportFilter:
    """Which events to export; time bounds apply to each event's own time ([since, until))."""

    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    after: int = 0


class Identities:
    """Tenant, user and session of aggregates, from their first events; a bounded LRU cache."""

    def __init__(self, store: LogStore, size: int = 10_000) -> None:
        self.store, self.size = store, size
        self._cache: OrderedDict[UUID, Identity] = OrderedDict()

    def learn(self, rows: list[EventRow], records: list[dict[str, Any]]) -> None:
        """Remember first events in `rows`; look up the aggregates still unknown in one query."""
        for row, record in zip(rows, records, strict=True):
            if row.version == 1:
                self._put(row.aggregate_id, _identity(record["data"]))
        missing = list(
            dict.fromkeys(r.aggregate_id for r in rows if r.aggregate_id not in self._cache)
        )
        for first in self.store.aggregate_rows(missing, version=1):
            self._put(first.aggregate_id, _identity(record_of(first)["data"]))

    def get(self, aggregate_id: UUID) -> Identity:
        """The identity of an aggregate (None parts when its first event is gone)."""
        found = self._cache.get(aggregate_id)
        if found is None:
            return (None, None, None)
        self._cache.move_to_end(aggregate_id)
        return found

    def _put(self, key: UUID, value: Identity) -> None:
        self._cache[key] = value
        self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)


def _identity(data: dict[str, Any]) -> Identity:
    return data.get("tenant"), data.get("user_id"), data.get("session_id")


def untag(value: Any) -> Any:
    """Stored state as plain JSON: tagged datetimes become RFC 3339 `Z` strings, UUIDs text."""
    if type(value) is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            data = untag(value["_data_"])
            if value["_type_"] == "datetime_iso":
                return str(data).replace("+00:00", "Z")
            if value["_type_"] == "uuid_hex":
                return str(UUID(hex=data))
            return data
        return {k: untag(v) for k, v in value.items()}
    if type(value) is list:
        return [untag(v) for v in value]
    return value


def record_of(row: EventRow) -> dict[str, Any]:
    """One event as an export record (identity filled in by `export`)."""
    try:
        data = untag(orjson.loads(row.state))
    except orjson.JSONDecodeError as e:
        raise CorruptEventError(row.position, f"its state is not JSON ({e})") from None
    time = data.get("at") or data.get("started_at") or data.get("timestamp")
    return {
        "position": row.position,
        "recorded_at": data.get("timestamp"),
        "time": time,
        "tenant": None,
        "user_id": None,
        "session_id": None,
        "event": row.topic.rsplit(":", 1)[-1],
        "aggregate_id": str(row.aggregate_id),
        "version": row.version,
        "topic": row.topic,
        "data": data,
    }


def records(
    store: LogStore,
    which: ExportFilter,
    *,
    head: int,
    progress: Callable[[int], None] | None = None,
    chunk: int = 1000,
) -> Iterator[dict[str, Any]]:
    """The matching events as records, in log order, from `which.after` up to `head`."""
    identities = Identities(store)
    rows = store.event_rows(which.after, head)
    while batch := list(islice(rows, chunk)):
        if progress is not None:
            progress(batch[-1].position)
        found = [record_of(row) for row in batch]
        identities.learn(batch, found)
        for row, record in zip(batch, found, strict=True):
            tenant, user, session = identities.get(row.aggregate_id)
            session = session or record["data"].get("session_id")
            record.update(tenant=tenant, user_id=user, session_id=session)
            if _matches(record, which):
                yield record


def _matches(record: dict[str, Any], which: ExportFilter) -> bool:
    if which.tenant is not None and record["tenant"] != which.tenant:
        return False
    if which.since is None and which.until is None:
        return True
    moment = datetime.fromisoformat(record["time"])
    return (which.since is None or moment >= which.since) and (
        which.until is None or moment < which.until
    )


def write_jsonl(found: Iterable[dict[str, Any]], out: BinaryIO) -> int:
    """Write one JSON object per line; return how many."""
    count = 0
    for record in found:
        out.write(orjson.dumps(record) + b"\n")
        count += 1
    return count


def write_csv(found: Iterable[dict[str, Any]], out: BinaryIO) -> int:
    """Write a header and one row per event (`data` as JSON); return how many."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in found:
        data = record["data"]
        flat = {**record, **{k: data.get(k) for k in ("reason", "actor", "cause", "ip")}}
        flat["data"] = orjson.dumps(data).decode()
        writer.writerow(["" if flat[c] is None else flat[c] for c in CSV_COLUMNS])
        count += 1
    text.detach()
    return count
