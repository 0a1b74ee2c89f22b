"""What an IdP connection is told, decided from the log alone: every termination of the
tenant but those the connection itself reported (loop) and expiries (unless asked for); a
reset's terminations as one "all the user's sessions" message. Signals come from a real
ledger's log (`signals_of_log`), so the causes are the ones the commands record."""

from __future__ import annotations

from typing import Any

from ledger.bootstrap import LedgerSystem
from ledger.outbound.enforcement import SESSION, USER, came_from, message_for
from ledger.outbound.signals import Signal, signals_of_log
from tests.outbound.conftest import log_events

RID = "connection:asgardeo"


def terminations(system: LedgerSystem) -> list[Signal]:
    events = [event for event, _ in log_events(system)]
    return [s for s in signals_of_log(events) if s.webhook_type == "session.terminated"]


def decide(signal: Signal, *, expiry: bool = False) -> tuple[str, dict[str, Any]] | None:
    return message_for(signal, receiver_id=RID, connection="asgardeo", enforce_expiry=expiry)


def test_a_termination_the_connection_reported_is_not_told_back(system: LedgerSystem) -> None:
    ledger = system.ledger
    for sid in ("s-1", "s-2", "s-3"):
        ledger.start_session(tenant="acme", user_id="alice", session_id=sid)
    ledger.terminate_session(tenant="acme", session_id="s-1", reason="logout", actor="alice",
                             cause="asgardeo:61503199-bdf7")  # fmt: skip
    ledger.terminate_session(tenant="acme", session_id="s-2", reason="logout", actor="alice",
                             cause="asgardeo-eu:jti-2")  # fmt: skip
    ledger.terminate_session(tenant="acme", session_id="s-3", reason="admin_terminated",
                             actor="admin-7")  # fmt: skip
    own, other, console = terminations(system)
    assert decide(own) is None
    told = [decide(other), decide(console)]
    assert [m[1]["session_id"] for m in told if m] == ["s-2", "s-3"]  # a longer name: not it
    assert all(m is not None and m[1]["scope"] == SESSION for m in told)
    assert came_from("asgardeo:x", "asgardeo") and not came_from(None, "asgardeo")


def test_a_resets_terminations_make_one_message_for_all_the_users_sessions(
    system: LedgerSystem,
) -> None:
    ledger = system.ledger
    for sid in ("s-1", "s-2"):
        ledger.start_session(tenant="acme", user_id="alice", session_id=sid)
    ledger.reset_password(tenant="acme", user_id="alice", actor="alice")
    ledger.start_session(tenant="acme", user_id="alice", session_id="s-3")
    ledger.reset_password(tenant="acme", user_id="alice", actor="alice")
    first, second, third = (decide(s) for s in terminations(system))
    assert first is not None and second is not None and third is not None
    assert first[0] == second[0] != third[0]  # one message per reset, stable ids
    assert first[1]["scope"] == third[1]["scope"] == USER
    assert "session_id" not in first[1] and first[1]["user_id"] == "alice"


def test_expiry_is_told_only_when_the_connection_asks(system: LedgerSystem) -> None:
    ledger = system.ledger
    ledger.start_session(tenant="acme", user_id="alice", session_id="s-1", idle_timeout_s=60)
    system.clock.advance(minutes=5)  # type: ignore[attr-defined]
    ledger.terminate_session(tenant="acme", session_id="s-1", reason="logout", actor="alice")
    (expired,) = terminations(system)
    assert expired.data["reason"] == "idle_timeout"
    assert decide(expired) is None
    told = decide(expired, expiry=True)
    assert told is not None and told[1]["session_id"] == "s-1"
