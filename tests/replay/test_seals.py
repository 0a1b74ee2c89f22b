"""Tamper seals on SQLite and PostgreSQL: every rewrite of a sealed event is found and named.

The tampering is done as an attacker with database access would: plain SQL on the events
table, with the append-only trigger disabled on PostgreSQL as a superuser can.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg.errors import InsufficientPrivilege

from ledger.bootstrap import LedgerSystem
from ledger.persistence.url import DatabaseURL
from ledger.seals import seal_new_events
from tests.conftest import FakeClock
from tests.replay.conftest import Replay, raw_sql


@pytest.fixture
def history(write_only: LedgerSystem, clock: FakeClock) -> LedgerSystem:
    """Two users, a few sessions, activity, a termination and a reset: 14 events."""
    ledger = write_only.ledger
    for user, sid in (("ann", "a1"), ("bob", "b1"), ("ann", "a2")):
        ledger.start_session(tenant="acme", user_id=user, session_id=sid, ip="10.0.0.1")
        clock.advance(minutes=2)
    ledger.record_activity(tenant="acme", session_id="a1", ip="10.0.0.9")
    ledger.terminate_session(tenant="acme", session_id="b1", reason="logout", actor="bob")
    ledger.reset_password(tenant="acme", user_id="ann", actor="helpdesk")
    return write_only


@pytest.fixture
def tamper(database_url: str) -> Iterator[Callable[..., Any]]:
    """`tamper(sql, params)` on the events table `{E}` (position column `{P}`), guard disabled."""
    url = DatabaseURL.parse(database_url)
    table, position = (
        ("sessionledger_events", "notification_id")
        if url.is_postgres
        else ("stored_events", "rowid")
    )
    with raw_sql(database_url) as execute:
        if url.is_postgres:
            execute(f"ALTER TABLE {table} DISABLE TRIGGER ledger_append_only")
        yield lambda q, p=(): execute(q.format(E=table, P=position), p)


def _findings(replay: Replay) -> list[dict[str, Any]]:
    result = replay("verify-seals", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (0 if report["ok"] else 1)
    return [{k: f[k] for k in ("kind", "position", "version")} for f in report["findings"]]


def test_a_sealed_log_verifies_intact(history: LedgerSystem, replay: Replay) -> None:
    result = replay("seal")
    assert result.exit_code == 0, result.output
    assert "chain head: seal 1" in result.stderr
    check = replay("verify-seals")
    assert check.exit_code == 0
    assert "1 seal(s) over 14 events: intact; 0 later event(s) not sealed yet" in check.stderr


def test_each_seal_links_to_the_previous_and_covers_only_new_events(
    history: LedgerSystem, replay: Replay
) -> None:
    first = json.loads(replay("seal", "--json").stdout)
    assert json.loads(replay("seal", "--json").stdout)["sealed"] == []
    history.ledger.start_session(tenant="acme", user_id="cy", session_id="c1")
    second = json.loads(replay("seal", "--json").stdout)["sealed"]
    assert [(s["after"], s["upto"], s["events"]) for s in second] == [(14, 17, 3)]
    assert second[0]["prev_hash"] == first["head"]["hash"]
    assert _findings(replay) == []


def test_the_project_process_seals_new_events(history: LedgerSystem, replay: Replay) -> None:
    made = seal_new_events(history.settings.events_url)
    assert [(s.after, s.upto) for s in made] == [(0, 14)]
    assert seal_new_events(history.settings.events_url) == []
    assert _findings(replay) == []


def test_an_edited_sealed_event_is_named(
    history: LedgerSystem, replay: Replay, tamper: Callable[..., Any]
) -> None:
    replay("seal")
    started = "SELECT {P}, state FROM {E} WHERE topic = ? ORDER BY {P}"
    position, state = tamper(started, ("ledger.aggregates.session:Session.Started",))[0]
    forged = bytes(state).replace(b"10.0.0.1", b"6.6.6.6")
    tamper("UPDATE {E} SET state = ? WHERE {P} = ?", (forged, position))
    assert _findings(replay) == [{"kind": "edited", "position": position, "version": 1}]
    table = replay("verify-seals")
    assert table.exit_code == 1
    assert "session a1 of ann (tenant acme) version 1" in table.stdout


def test_a_deleted_sealed_event_is_named(
    history: LedgerSystem, replay: Replay, tamper: Callable[..., Any]
) -> None:
    replay("seal")
    tamper("DELETE FROM {E} WHERE {P} = 10")
    (found,) = _findings(replay)
    assert (found["kind"], found["position"]) == ("deleted", 10)


def test_reordered_sealed_events_are_named_with_where_they_went(
    history: LedgerSystem, replay: Replay, tamper: Callable[..., Any]
) -> None:
    replay("seal")
    tamper("UPDATE {E} SET {P} = -1 WHERE {P} = 4")
    tamper("UPDATE {E} SET {P} = 4 WHERE {P} = 5")
    tamper("UPDATE {E} SET {P} = 5 WHERE {P} = -1")
    found = _findings(replay)
    assert [(f["kind"], f["position"]) for f in found] == [("reordered", 4), ("reordered", 5)]
    details = json.loads(replay("verify-seals", "--json").stdout)["findings"]
    assert [d["detail"] for d in details] == ["moved to position 5", "moved to position 4"]


def test_an_event_inserted_among_sealed_ones_is_named(
    history: LedgerSystem, replay: Replay, tamper: Callable[..., Any]
) -> None:
    replay("seal")
    forged = tamper("SELECT originator_id, topic, state FROM {E} WHERE {P} = 3")[0]
    tamper("UPDATE {E} SET {P} = 15 WHERE {P} = 14")  # make room at the end of the sealed range
    tamper("INSERT INTO {E} ({P}, originator_id, originator_version, topic, state)"
           " VALUES (14, ?, 99, ?, ?)", forged)  # fmt: skip
    found = _findings(replay)
    assert {"kind": "inserted", "position": 14, "version": 99} in found
    assert {"kind": "reordered", "position": 14, "version": found[0]["version"]} in found


def test_the_seal_table_refuses_updates_and_deletes(
    history: LedgerSystem, replay: Replay, database_url: str
) -> None:
    replay("seal")
    # The guards' own refusals: SQLite's RAISE(ABORT) trigger, PostgreSQL's insufficient_privilege.
    refusal = sqlite3.IntegrityError if database_url.startswith("sqlite") else InsufficientPrivilege
    with raw_sql(database_url) as execute:
        for statement in ("UPDATE ledger_seals SET hash = 'x'", "DELETE FROM ledger_seals"):
            with pytest.raises(refusal, match="append-only"):
                execute(statement)


def test_an_altered_seal_and_a_rewritten_chain_are_detected(
    history: LedgerSystem, replay: Replay, database_url: str
) -> None:
    head = json.loads(replay("seal", "--json").stdout)["head"]["hash"]
    with raw_sql(database_url) as execute:
        _disable_seal_guard(execute, database_url)
        execute("UPDATE ledger_seals SET sealed_at = '2020-01-01T00:00:00Z'")
        assert [f["kind"] for f in _findings(replay)] == ["seal-altered"]
        execute("DELETE FROM ledger_seals")
    assert replay("seal").exit_code == 0  # a fresh chain over the same events
    assert _findings(replay) == []
    rewritten = replay("verify-seals", "--head", head, "--json")
    assert rewritten.exit_code == 1
    assert [f["kind"] for f in json.loads(rewritten.stdout)["findings"]] == ["head-missing"]


def _disable_seal_guard(execute: Callable[..., Any], database_url: str) -> None:
    if DatabaseURL.parse(database_url).is_postgres:
        execute("ALTER TABLE ledger_seals DISABLE TRIGGER ledger_append_only")
    else:
        execute("DROP TRIGGER ledger_seals_no_update")
        execute("DROP TRIGGER ledger_seals_no_delete")
