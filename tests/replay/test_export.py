"""`ledger-replay export`: the log as JSON Lines or CSV, filtered, streamed, lossless."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger.bootstrap import LedgerSystem
from tests.conftest import FakeClock
from tests.replay.conftest import Replay


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
