"""`ledger-replay export`: the log as JSON Lines or CSV, filtered, streamed, lossless."""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from ledger.bootstrap import LedgerSystem
from ledger.log_store import CorruptEventError, LogStore
from ledger.persistence.url import DatabaseURL
from replay_tools.export import ExportFilter, Identities, record_of, records
from tests.conftest import FakeClock
from tests.replay.conftest import Replay, raw_sql


@pytest.fixture
def history(write_only: LedgerSystem, clock: FakeClock) -> LedgerSystem:
    """Two tenants; starts, activity with SSO, a logout and a revocation over an hour."""
    ledger = write_only.ledger
    ledger.start_session(
        tenant="acme", user_id="ann", session_id="a1", ip="10.0.0.1", user_agent="Firefox",
        application={"id": "mail", "name": "Mail"}, auth_methods=["pwd", "otp"],
    )  # fmt: skip
    clock.advance(minutes=10)
    ledger.record_activity(
        tenant="acme", session_id="a1", ip="10.0.0.2", application={"id": "wiki", "name": "Wiki"}
    )
    ledger.start_session(tenant="globex", user_id="gus", session_id="g1")
    clock.advance(minutes=20)
    ledger.terminate_session(
        tenant="globex", session_id="g1", reason="logout", actor="idp", cause="jti-1"
    )
    clock.advance(minutes=30)
    ledger.revoke(tenant="acme", user_id="ann", reason="account_disabled", actor="root")
    return write_only


def _jsonable(value: Any) -> Any:
    """The test's own conversion of decoded event values to JSON (independent of the export)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _the_log(system: LedgerSystem) -> list[dict[str, Any]]:
    """The log as the library reads it: notifications decoded by the application's mapper."""
    app = system.ledger
    found = []
    for n in app.recorder.select_notifications(start=None, limit=10_000):
        event = vars(app.mapper.to_domain_event(n)).copy()
        aggregate_id, version = event.pop("originator_id"), event.pop("originator_version")
        found.append(
            {"position": n.id, "aggregate_id": str(aggregate_id), "version": version}
            | {"topic": n.topic, "data": _jsonable(event)}
        )
    return found


def test_a_jsonl_export_read_back_equals_the_log(history: LedgerSystem, replay: Replay) -> None:
    """Export, parse every line, and compare with the log decoded by the library itself."""
    result = replay("export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    kept = ("position", "aggregate_id", "version", "topic", "data")
    assert [{k: line[k] for k in kept} for line in lines] == _the_log(history)
    assert len(lines) == 12
    assert "exported 12 events" in result.stderr


def test_every_exported_event_names_its_tenant_user_and_session(
    history: LedgerSystem, replay: Replay
) -> None:
    lines = [json.loads(line) for line in replay("export").stdout.splitlines()]
    assert all(line["tenant"] in ("acme", "globex") and line["user_id"] for line in lines)
    end = next(line for line in lines if line["event"] == "Session.Terminated")
    assert (end["tenant"], end["user_id"], end["session_id"]) == ("globex", "gus", "g1")
    assert end["time"] == "2026-03-01T12:30:00Z"
    assert end["recorded_at"] == end["data"]["timestamp"]


def test_a_csv_export_has_one_row_per_event_with_the_event_data(
    history: LedgerSystem, replay: Replay
) -> None:
    jsonl = [json.loads(line) for line in replay("export").stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(replay("export", "--format", "csv").stdout)))
    assert [json.loads(r["data"]) for r in rows] == [line["data"] for line in jsonl]
    assert [int(r["position"]) for r in rows] == [line["position"] for line in jsonl]
    logout = next(r for r in rows if r["event"] == "Session.Terminated")
    assert (logout["reason"], logout["actor"], logout["cause"]) == ("logout", "idp", "jti-1")


def test_export_filters_by_tenant_time_and_position(history: LedgerSystem, replay: Replay) -> None:
    def positions(*args: str) -> list[int]:
        return [json.loads(line)["position"] for line in replay("export", *args).stdout.split()]

    everything = positions()
    globex = positions("--tenant", "globex")
    assert globex
    assert all(p in everything for p in globex)
    assert len(globex) == len([p for p in everything if p not in positions("--tenant", "acme")])
    later = positions("--since", "2026-03-01T12:30:00Z")
    window = positions("--since", "2026-03-01T12:10:00Z", "--until", "2026-03-01T12:30:00Z")
    assert window
    assert later
    assert not set(window) & set(later)
    assert positions("--after", str(everything[5])) == everything[6:]


def test_export_to_a_file_replaces_it_only_when_complete(
    history: LedgerSystem, replay: Replay, tmp_path: Path
) -> None:
    out = tmp_path / "events.jsonl"
    out.write_text("old")
    result = replay("export", "--out", str(out))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert len(out.read_text().splitlines()) == 12
    assert not (tmp_path / "events.jsonl.partial").exists()


def _slow_records(store: LogStore, head: int, after: int) -> list[dict[str, Any]]:
    """The records as the export first built them: `record_of` on each EventRow, identity
    from the aggregate's first event looked up row by row (the reference for the bulk path)."""
    found = []
    for row in store.event_rows(after, head):
        record = record_of(row)
        first = store.aggregate_rows([row.aggregate_id], version=1)
        data = record_of(first[0])["data"] if first else {}
        tenant, user, session = (data.get(k) for k in ("tenant", "user_id", "session_id"))
        session = session or record["data"].get("session_id")
        found.append(record | {"tenant": tenant, "user_id": user, "session_id": session})
    return found


def _odd_value(rng: random.Random, depth: int = 0) -> Any:
    """A random stored value: scalars, containers, well-formed and odd tags."""
    when = f"2026-03-0{rng.randint(1, 9)}T12:00:0{rng.randint(0, 9)}"
    choices: list[Any] = [
        rng.randint(-(2**40), 2**40), rng.random() * 1e6, None, True, "",
        "naïve +00:00 \u2603 \n\t \x01 \"quoted\" \\ back", "_type_", "\u005f",
        {"_type_": "datetime_iso", "_data_": when + "+00:00"},
        {"_type_": "datetime_iso", "_data_": when + ".123456+02:00"},
        {"_type_": "datetime_iso", "_data_": when},
        {"_type_": "uuid_hex", "_data_": uuid.UUID(int=rng.getrandbits(128)).hex},
        {"_type_": "uuid_hex", "_data_": uuid.UUID(int=rng.getrandbits(128)).hex.upper()},
        {"_type_": "decimal_str", "_data_": "1.50"},
        {"_data_": when + "+00:00", "_type_": "datetime_iso"},
        {"_type_": "datetime_iso", "_data_": when + "+00:00", "extra": 1},
        {"_type_": "datetime_iso"},
    ]  # fmt: skip
    if depth < 3:
        choices += [
            {"_type_": "tuple_as_list", "_data_": [_odd_value(rng, depth + 1) for _ in range(2)]},
            [_odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))],
            {f"k{i}": _odd_value(rng, depth + 1) for i in range(rng.randint(0, 3))},
        ]
    return rng.choice(choices)


def _odd_state(rng: random.Random, identity: dict[str, str]) -> bytes:
    state: dict[str, Any] = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-03-01T12:00:00+00:00"}
    }
    state |= {k: v for k, v in identity.items() if rng.random() < 0.8}
    state |= {rng.choice(["at", "started_at", "x", "y"]): _odd_value(rng) for _ in range(4)}
    text = orjson.dumps(state)
    if rng.random() < 0.2:  # another writer's JSON: spaces, \u escapes
        text = json.dumps(state).replace('"_type_"', '"\\u005ftype_"').encode()
    return text


def test_the_bulk_records_equal_the_row_by_row_ones_on_a_random_log(
    write_only: LedgerSystem,
    clock: FakeClock,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Commands and forged events with odd states: `records` (in small batches, with a small
    identity cache) yields exactly what `record_of` row by row yields, in the same JSON bytes."""
    rng = random.Random(7)
    ledger, open_sessions = write_only.ledger, list[tuple[str, str]]()
    for n in range(60):
        clock.advance(seconds=rng.randint(1, 20))
        tenant, user = rng.choice(["acme", "globex"]), f"u{rng.randint(0, 5)}"
        if not open_sessions or rng.random() < 0.4:
            ledger.start_session(tenant=tenant, user_id=user, session_id=f"s{n}")
            open_sessions.append((tenant, f"s{n}"))
        elif rng.random() < 0.7:
            tenant, sid = rng.choice(open_sessions)
            ledger.record_activity(tenant=tenant, session_id=sid, ip=f"10.0.0.{n}")
        else:
            tenant, sid = open_sessions.pop(rng.randrange(len(open_sessions)))
            ledger.terminate_session(tenant=tenant, session_id=sid, reason="logout", actor="a")
    url = DatabaseURL.parse(database_url)
    table = "sessionledger_events" if url.is_postgres else "stored_events"
    forged = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(8)]
    with raw_sql(database_url) as execute:
        for n in range(150):
            oid, version = rng.choice(forged), n + 1
            identity = {"tenant": "t", "user_id": f"f{n}", "session_id": f"fs{oid.hex[:4]}"}
            execute(
                f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?)",
                (str(oid) if url.is_postgres else oid.hex, 1 if n < 3 else version,
                 f"forged:Thing{n % 3}", _odd_state(rng, identity)),
            )  # fmt: skip
    monkeypatch.setattr(Identities.__init__, "__defaults__", (8,))  # evictions, look-ups
    with LogStore.open(url) as store:
        head = store.head()
        for after in (0, head // 2):
            expected = _slow_records(store, head, after)
            got = list(records(store, ExportFilter(after=after), head=head, chunk=7))
            assert [orjson.dumps(r) for r in got] == [orjson.dumps(r) for r in expected]
            assert len(got) == head - after


def test_a_state_that_is_not_json_is_named_by_its_position(
    history: LedgerSystem, database_url: str
) -> None:
    url = DatabaseURL.parse(database_url)
    table = "sessionledger_events" if url.is_postgres else "stored_events"
    with raw_sql(database_url) as execute:
        execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " VALUES (?, 1, 'x:Y', ?)",
            (str(uuid.uuid4()) if url.is_postgres else uuid.uuid4().hex, b"{not json"),
        )
    with LogStore.open(url) as store:
        head = store.head()
        with pytest.raises(CorruptEventError, match=f"position {head} is corrupt"):
            list(records(store, ExportFilter(), head=head, chunk=5))
