"""The outbox process's writes: exactly once with the tracking, per receiver, per filter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.outbound import queue, receivers
from ledger.outbound.runtime import open_store
from ledger.outbound.signals import CREDENTIAL_CHANGE, SESSION_ESTABLISHED, SESSION_REVOKED
from ledger.outbound.store import SSF, WEBHOOK, OutboxStorage
from ledger.projections.feed import Skipped
from tests.conftest import FakeClock
from tests.outbound.conftest import TRANSMITTER, log_events


@pytest.fixture
def ledger_and_store(
    outbound_settings: Settings, clock: FakeClock
) -> Iterator[tuple[LedgerSystem, OutboxStorage]]:
    system = bootstrap(outbound_settings, clock=clock, run_projections=False)
    store, factory = open_store(outbound_settings)
    yield system, store
    factory.close()
    system.close()


def stream(store: OutboxStorage, rid: str, *, tenant: str = "acme", at: int = 0,
           events: tuple[str, ...] = (SESSION_REVOKED, CREDENTIAL_CHANGE)) -> None:  # fmt: skip
    config = {"iss": TRANSMITTER, "aud": rid, "user_iss": "https://idp", "default_subjects": "ALL",
              "events_requested": list(events), "events_delivered": list(events),
              "delivery": {"method": "urn:ietf:rfc:8936", "endpoint_url": "x"}}  # fmt: skip
    receivers.create(store, receiver_id=rid, kind=SSF, tenant=tenant, owner=rid, config=config,
                     from_position=at)  # fmt: skip


def project(system: LedgerSystem, store: OutboxStorage, *, skip_accounts: bool = False) -> None:
    """Apply the log after the store's position, as the runner would (one batch)."""
    after = store.max_tracking_id("SessionLedger") or 0
    batch: list[tuple[Any, Tracking]] = []
    for decoded, position in log_events(system, after):
        event = decoded
        if skip_accounts and type(decoded).__qualname__.startswith("Account.Session"):
            event = Skipped(decoded.originator_id, decoded.originator_version, "x")
        batch.append((event, Tracking("SessionLedger", position)))
    if batch:
        store.apply_batch(batch)


def kinds(store: OutboxStorage, rid: str) -> list[str]:
    return [next(iter(m.body["events"])) if "events" in m.body else m.body["type"]
            for m in queue.pending(store, rid, limit=1000)]  # fmt: skip


def test_exactly_once_with_tracking(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    stream(store, "r1")
    system.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
    system.ledger.terminate_session(tenant="acme", session_id="s1", reason="logout", actor="alice")
    events = log_events(system)
    batch = [(e, Tracking("SessionLedger", p)) for e, p in events]
    store.apply_batch(batch)
    assert kinds(store, "r1") == [SESSION_REVOKED]
    with pytest.raises(IntegrityError):
        store.apply_batch(batch)  # a replay of the same positions is refused ...
    assert kinds(store, "r1") == [SESSION_REVOKED]  # ... and writes nothing
    assert store.max_tracking_id("SessionLedger") == events[-1][1]


def test_later_batch_finds_the_session(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    stream(store, "r1")
    system.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
    project(system, store)
    system.ledger.reset_password(tenant="acme", user_id="alice", actor="helpdesk")
    project(system, store, skip_accounts=True)
    bodies = [m.body for m in queue.pending(store, "r1", limit=10)]
    assert sorted(next(iter(b["events"])) for b in bodies) == sorted(
        [CREDENTIAL_CHANGE, SESSION_REVOKED]
    )
    revoked = next(b for b in bodies if SESSION_REVOKED in b["events"])
    assert revoked["sub_id"]["session"] == {"format": "opaque", "id": "s1"}
    assert revoked["sub_id"]["user"] == {"format": "iss_sub", "iss": "https://idp", "sub": "alice"}
    assert {b["txn"] for b in bodies} == {revoked["txn"]}


def test_each_receiver_gets_what_it_asked_for(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    system.ledger.start_session(tenant="acme", user_id="alice", session_id="old")
    head = system.ledger.recorder.max_notification_id()
    stream(store, "late", at=head)  # created after the first start
    stream(store, "starts", events=(SESSION_ESTABLISHED,))
    stream(store, "globex", tenant="globex")
    stream(store, "paused")
    receivers.set_status(store, "paused", "paused", None)
    stream(store, "off")
    receivers.set_status(store, "off", "disabled", None)
    receivers.create(store, receiver_id="hook", kind=WEBHOOK, tenant="acme", owner="o",
                     config={"url": "x", "event_types": ["session.terminated"]}, from_position=0,
                     secret="whsec_AAAA")  # fmt: skip
    system.ledger.start_session(tenant="acme", user_id="bob", session_id="new")
    system.ledger.terminate_all(
        tenant="acme", user_id="alice", reason="admin_terminated", actor="a"
    )
    project(system, store)
    assert kinds(store, "late") == [SESSION_REVOKED]
    assert kinds(store, "starts") == [SESSION_ESTABLISHED, SESSION_ESTABLISHED]
    assert kinds(store, "globex") == []
    assert kinds(store, "paused") == [SESSION_REVOKED]  # held, not dropped
    assert kinds(store, "off") == []
    assert kinds(store, "hook") == ["session.terminated"]


def test_removed_subject_is_not_sent(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    stream(store, "r1")
    receivers.set_subject(store, "r1", {"format": "iss_sub", "iss": "https://idp", "sub": "alice"},
                          included=False)  # fmt: skip
    for user in ("alice", "bob"):
        system.ledger.start_session(tenant="acme", user_id=user, session_id=f"s-{user}")
        system.ledger.terminate_session(
            tenant="acme", session_id=f"s-{user}", reason="logout", actor=user
        )
    project(system, store)
    [only] = queue.pending(store, "r1", limit=10)
    assert only.body["sub_id"]["user"]["sub"] == "bob"


def test_disable_drops_and_redeliver_requeues(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    stream(store, "r1")
    system.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
    system.ledger.terminate_session(tenant="acme", session_id="s1", reason="logout", actor="alice")
    project(system, store)
    [message] = queue.pending(store, "r1", limit=10)
    queue.delivered(store, message)
    assert queue.pending(store, "r1", limit=10) == []
    assert message.position is not None
    assert queue.redeliver(store, "r1", from_position=message.position) == 1
    [again] = queue.pending(store, "r1", limit=10)
    assert again.msg_id == message.msg_id  # the same jti
    receivers.set_status(store, "r1", "disabled", "test")
    assert queue.pending(store, "r1", limit=10) == []


def test_finished_messages_are_pruned_after_retention(ledger_and_store: Any) -> None:
    system, store = ledger_and_store
    stream(store, "r1")
    for sid in ("s1", "s2"):
        system.ledger.start_session(tenant="acme", user_id="alice", session_id=sid)
        system.ledger.terminate_session(tenant="acme", session_id=sid, reason="logout", actor="a")
    project(system, store)
    first, second = queue.pending(store, "r1", limit=10)
    queue.delivered(store, first)
    assert queue.prune(store, done_before=time.time() - 60) == 0  # kept for the retention
    assert queue.prune(store, done_before=time.time() + 1) == 1
    assert queue.pending(store, "r1", limit=10) == [second]  # pending messages are never pruned
    assert queue.redeliver(store, "r1", from_position=0) == 1  # only what is kept comes again
