"""`ledger-replay check`: the model's invariants over a real log, on SQLite and PostgreSQL.

A log written by the ledger from random stories of the testing kit keeps every invariant (no
violation, exit 0). A log broken the way a bug or an attacker would break it, by writing events
the application refuses straight through the recorder (aggregates' event methods, `save`) or
the raw table, is caught: each kind of violation is found, with the log positions of the
events that show it, and the command exits 1.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from typer.testing import CliRunner

from ledger.aggregates import Account, Session, account_uuid, session_uuid
from ledger.application import SessionLedger
from ledger.bootstrap import LedgerSystem
from ledger.persistence.url import DatabaseURL
from ledger.testing.sandbox import open_sandbox
from ledger.testing.story import Step
from ledger.testing.strategies import stories
from replay_tools.cli import app
from tests.conftest import FakeClock
from tests.replay.conftest import Replay, log_store, raw_sql

Found = list[tuple[str, tuple[int, ...]]]


def found(replay: Replay) -> Found:
    """(kind, positions) of every violation `check --json` reports; exit 1 iff any."""
    result = replay("check", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == (1 if report["violations"] else 0), result.stderr
    return [(v["kind"], tuple(v["positions"])) for v in report["violations"]]


def at(database_url: str, aggregate: UUID, version: int) -> int:
    """The log position of an aggregate's event."""
    with log_store(database_url) as store:
        row = store.locate(aggregate, version)
    assert row is not None
    return row.position


def start(ledger: SessionLedger, sid: str, *, user: str = "alice") -> None:
    ledger.start_session(
        tenant="acme", user_id=user, session_id=sid, idle_timeout_s=300, max_lifetime_s=900
    )


def session(ledger: SessionLedger, sid: str) -> Session:
    found_: Session = ledger.repository.get(session_uuid("acme", sid))
    return found_


def account(ledger: SessionLedger, user: str = "alice") -> Account:
    found_: Account = ledger.repository.get(account_uuid("acme", user))
    return found_


def saved(ledger: SessionLedger, *aggregates: Any) -> list[int]:
    """Save through the recorder, as a bug would (no command, no rule); the new positions."""
    return [r.notification.id for r in ledger.save(*aggregates)]


def test_a_log_of_random_stories_keeps_every_invariant(
    backend: str, tmp_path: Path, postgres_database: DatabaseURL | None
) -> None:
    """Stories of every kind, then `check`: no violation; and the logs were not empty."""
    if backend == "sqlite":
        urls: Callable[[], str] = lambda: f"sqlite:///{tmp_path}/{uuid.uuid4().hex}.sqlite3"  # noqa: E731
    elif postgres_database is None:
        pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
    else:
        db = postgres_database
        base = f"postgresql://{db.user}@{db.host}:{db.port}/{db.dbname}"
        urls = lambda: f"{base}?schema=c_{uuid.uuid4().hex[:12]}"  # noqa: E731
    checked: Counter[str] = Counter()

    @settings(max_examples=8)
    @given(story=stories(max_steps=40))
    def keeps_invariants(story: list[Step]) -> None:
        url = urls()
        with open_sandbox(url, views=False) as sandbox:
            for step in story:
                sandbox.play(step)
            checked["ended"] += sum(s.ended_at is not None for s in sandbox.model.sessions.values())
        result = CliRunner().invoke(app, ["check", "--json"], env={"LEDGER_DATABASE_URL": url})
        report = json.loads(result.stdout)
        assert (result.exit_code, report["violations"]) == (0, []), report["violations"]
        checked["events"] += report["events"]

    keeps_invariants()
    assert checked["events"] > 0, checked
    assert checked["ended"] > 0, checked


def test_activity_after_an_end_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, database_url: str
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    start(ledger, "s2")
    ledger.terminate_session(tenant="acme", session_id="s1", reason="logout", actor="alice")
    assert found(replay) == []
    ended = session(ledger, "s1")
    ended._activity_recorded(at=clock.advance(seconds=10), ip=None)
    (late,) = saved(ledger, ended)
    expired = session(ledger, "s2")  # idle 300 s: expired (unrecorded) 300 s after its start
    expired._activity_recorded(at=clock.advance(seconds=390), ip=None)
    (after_expiry,) = saved(ledger, expired)
    terminated = at(database_url, session_uuid("acme", "s1"), 2)
    assert found(replay) == [
        ("event_after_end", (terminated, late)),
        ("event_after_end", (after_expiry,)),
    ]


def test_a_session_left_open_by_its_account_after_its_termination_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, database_url: str
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    ended = session(ledger, "s1")
    ended.terminate(at=clock.advance(seconds=5), reason="logout", actor="alice")
    (terminated,) = saved(ledger, ended)  # the account is not told (a bug)
    added = at(database_url, account_uuid("acme", "alice"), 2)
    assert found(replay) == [("active_after_end", (added, terminated))]


def test_a_password_reset_that_left_sessions_open_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, database_url: str
) -> None:
    ledger = write_only.ledger
    for sid in ("s1", "s2", "s3"):
        start(ledger, sid)
    user = account(ledger)
    user.reset_password(at=clock.advance(seconds=5), actor="idp", reset_id="r1", closed=["s3"])
    (reset,) = saved(ledger, user)  # closes s3 without ending it, leaves s1 and s2 open
    added = [at(database_url, account_uuid("acme", "alice"), v) for v in (2, 3, 4)]
    assert found(replay) == [
        ("reset_left_open", (added[0], added[1], reset)),
        ("reset_left_open", (added[2], reset)),
    ]


def test_an_expiry_recorded_at_another_moment_than_the_rules_say_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    start(ledger, "s2")
    early, late = session(ledger, "s1"), session(ledger, "s2")
    alice = account(ledger)
    moment = clock.advance(seconds=100)  # idle 300 s: both still active
    early._terminated(at=moment, reason="idle_timeout", actor="system", cause=None)
    alice.close_sessions(session_ids=["s1"], at=moment)
    *_, wrong_expiry = saved(ledger, alice, early)
    moment = clock.advance(seconds=400)  # s2 expired 200 s ago: a logout now is recorded late
    late._terminated(at=moment, reason="logout", actor="alice", cause=None)
    alice.close_sessions(session_ids=["s2"], at=moment)
    *_, late_logout = saved(ledger, alice, late)
    assert found(replay) == [
        ("expiry_moment", (wrong_expiry,)),
        ("expiry_moment", (late_logout,)),
    ]


@pytest.mark.parametrize(("reason", "actor"), [("logout", ""), ("because", "alice"), (None, "x")])
def test_a_termination_without_a_reason_or_an_actor_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, reason: Any, actor: str
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    ended, alice = session(ledger, "s1"), account(ledger)
    moment = clock.advance(seconds=5)
    ended._terminated(at=moment, reason=reason, actor=actor, cause=None)
    alice.close_sessions(session_ids=["s1"], at=moment)
    *_, terminated = saved(ledger, alice, ended)
    assert found(replay) == [("unattributed_end", (terminated,))]


def test_a_gap_in_versions_is_found(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, database_url: str
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    clock.advance(seconds=120)
    outcome = ledger.record_activity(tenant="acme", session_id="s1")
    assert outcome.position is not None
    url = DatabaseURL.parse(database_url)
    table = "sessionledger_events" if url.is_postgres else "stored_events"
    position = "notification_id" if url.is_postgres else "rowid"
    with raw_sql(database_url) as execute:  # the activity again, two versions on
        execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
            f" SELECT originator_id, originator_version + 2, topic, state FROM {table}"
            f" WHERE {position} = ?",
            (outcome.position,),
        )
        (forged,) = execute(f"SELECT MAX({position}) FROM {table}")[0]
    assert found(replay) == [("version_gap", (outcome.position, forged))]


def test_violations_are_printed_with_their_positions(
    write_only: LedgerSystem, replay: Replay, clock: FakeClock, database_url: str
) -> None:
    ledger = write_only.ledger
    start(ledger, "s1")
    ended = session(ledger, "s1")
    ended.terminate(at=clock.advance(seconds=5), reason="logout", actor="alice")
    (terminated,) = saved(ledger, ended)
    added = at(database_url, account_uuid("acme", "alice"), 2)
    result = replay("check")
    assert result.exit_code == 1
    assert f"{added}, {terminated}" in result.stdout
    assert "active_after_end" in result.stdout
    assert "1 violations" in result.stderr
