"""`export`: the raw events for a SIEM or an auditor, as JSON Lines or CSV, in constant memory.

Rows stream from one read of the events table (a server-side cursor on PostgreSQL) in pages
of 1,000 that are decoded and written as they come; each event is attributed to its tenant,
user and session through a bounded cache of aggregates' first events (looked up in batches
on a miss), so memory does not grow with the log. `data` is the event's stored state,
lossless, with times as RFC 3339 UTC strings. Measured by bench/export_memory.py (memory)
and bench/replay.py (R1, speed). Tests: tests/replay/test_export.py.
"""

from __future__ import annotations

import contextlib
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

from ledger.log_store import CorruptEventError, EventRow, ExportRow, LogStore

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
    """Tenant, user and session of aggregates (by id text) from their first events; LRU cache."""

    def __init__(self, store: LogStore, size: int = 10_000) -> None:
        self.store, self.size = store, size
        self._cache: OrderedDict[str, Identity] = OrderedDict()

    def of(self, rows: list[ExportRow], data: list[dict[str, Any]]) -> list[Identity]:
        """The identity of each row's aggregate (None parts when its first event is gone).

        First events among `rows` are remembered, the aggregates still unknown looked up in
        one query; the batch's own are resolved before anything is evicted to make room.
        """
        known = {
            row[1]: _identity(state) for row, state in zip(rows, data, strict=True) if row[2] == 1
        }
        cache, missing = self._cache, []
        for key in dict.fromkeys(row[1] for row in rows):
            if key not in known:
                found = cache.get(key)
                if found is None:
                    missing.append(key)
                else:
                    known[key] = found
        for first in self.store.aggregate_rows([UUID(m) for m in missing], version=1):
            known[str(first.aggregate_id)] = _identity(record_of(first)["data"])
        for key, identity in known.items():
            self._put(key, identity)
        unknown = (None, None, None)
        return [known.get(row[1], unknown) for row in rows]

    def _put(self, key: str, value: Identity) -> None:
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


def _untag_fresh(value: Any) -> Any:
    """`untag` for a value fresh from orjson.loads: containers rewritten in place, tags inline."""
    if type(value) is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return untag(value)
        for key, item in value.items():
            if type(item) is dict:
                if (
                    len(item) == 2
                    and item.get("_type_") == "datetime_iso"
                    and type(data := item.get("_data_")) is str
                ):
                    value[key] = data.replace("+00:00", "Z")
                else:
                    value[key] = _untag_fresh(item)
            elif type(item) is list:
                value[key] = _untag_fresh(item)
        return value
    if type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict or type(item) is list:
                value[index] = _untag_fresh(item)
    return value


def _states(rows: list[ExportRow]) -> list[dict[str, Any]]:
    """The rows' stored states decoded and untagged (`record_of`'s `data`), in bulk.

    A batch with a state that is not a JSON object (or fails to untag) goes through
    `record_of` row by row instead, which raises what the export always raised for it.
    """
    loads = orjson.loads
    with contextlib.suppress(Exception):  # record_of says what is wrong, as it always did
        found = [_untag_fresh(loads(row[4])) for row in rows]
        if {*map(type, found)} == {dict}:
            return found
    return [record_of(EventRow(p, UUID(a), v, t, s))["data"] for p, a, v, t, s in rows]


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
    """The matching events as records, in log order, from `which.after` up to `head`.

    Each is its row's `record_of` with the identity filled in (built here in bulk, from the
    store's plain rows: tests/replay/test_export.py compares the two on a random log).
    """
    identities = Identities(store)
    names: dict[str, str] = {}  # topic -> event name
    filtered = which.tenant is not None or which.since is not None or which.until is not None
    for batch in store.export_batches(which.after, head, chunk):
        if progress is not None:
            progress(batch[-1][0])
        found = _states(batch)
        for (position, aggregate_id, version, topic, _), data, (tenant, user, session) in zip(
            batch, found, identities.of(batch, found), strict=True
        ):
            event = names.get(topic)
            if event is None:
                event = names[topic] = topic.rsplit(":", 1)[-1]
            stamp = data.get("timestamp")
            record = {
                "position": position,
                "recorded_at": stamp,
                "time": data.get("at") or data.get("started_at") or stamp,
                "tenant": tenant,
                "user_id": user,
                "session_id": session or data.get("session_id"),
                "event": event,
                "aggregate_id": aggregate_id,
                "version": version,
                "topic": topic,
                "data": data,
            }
            if not filtered or _matches(record, which):
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
    count, found, dumps = 0, iter(found), orjson.dumps
    while lines := [dumps(record) for record in islice(found, 1000)]:
        count += len(lines)
        lines.append(b"")
        out.write(b"\n".join(lines))
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
