"""Play stories on a real ledger next to the reference model, and compare what each answers.

`play(step, ledger=..., model=..., clock=...)` runs one step on both: when the model refuses, the
ledger must refuse with the same kind (`kind_of`); when it accepts, the command's own result
(created, recorded, the reason, the ids ended) must be the model's. `assert_ledger_agrees`
compares the aggregates as the repository returns them (open sessions, end time, reason, actor,
last activity, applications, each user's open set); `assert_views_agree` compares the read
models the API serves (active sessions, history with reasons and actors).
Tests: tests/testing_kit/test_checks.py, tests/properties/test_ledger_machine.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ledger.aggregates import (
    Account,
    FutureTimestamp,
    InvalidInput,
    Session,
    SessionConflict,
    SessionEnded,
    SessionNotFound,
    account_uuid,
    session_uuid,
)
from ledger.application import SessionLedger
from ledger.testing.model import Model, ModelError
from ledger.testing.story import Activity, End, Reap, Start, Step

KINDS: dict[type[Exception], str] = {
    SessionConflict: "conflict",
    SessionEnded: "ended",
    SessionNotFound: "not_found",
    FutureTimestamp: "future",
    InvalidInput: "invalid",
}
"""The model's name (`ModelError.kind`) for each refusal of the ledger."""


class Disagreement(AssertionError):
    """The ledger answered other than the reference model."""


def kind_of(error: Exception) -> str | None:
    """The model's name for a ledger refusal; None for an error that is no refusal."""
    for cls, kind in KINDS.items():
        if isinstance(error, cls):
            return kind
    return None


def refusal_of(call: Callable[[], Any]) -> tuple[str | None, Any]:
    """(the kind of the refusal or None, the result): run `call`, classifying what it raises."""
    try:
        return None, call()
    except Exception as error:
        kind = kind_of(error)
        if kind is None:
            raise
        return kind, error


def play(step: Step, *, ledger: SessionLedger, model: Model, clock: Any = None) -> Any:
    """Run `step` on the model and the ledger; raise `Disagreement` unless they agree.

    `clock`, when given, is moved to the step's time first (a `ManualClock`).
    Returns what the model expected (None when it refused).
    """
    if clock is not None:
        clock.now = max(clock.now, step.at)
    candidates = sorted(model.sessions)
    try:
        expected = step.expect(model)
    except ModelError as refused:
        kind, got = refusal_of(lambda: _perform(step, ledger, candidates))
        _same(kind, refused.kind, f"{step} (the ledger: {got!r})", "refusal")
        return None
    kind, outcome = refusal_of(lambda: _perform(step, ledger, candidates))
    _same(kind, None, step, "refusal")
    _same(_result(step, outcome), _expected(step, expected, model), step, "result")
    return expected


def _perform(step: Step, ledger: SessionLedger, candidates: list[tuple[str, str]]) -> Any:
    return step.perform(ledger, candidates) if isinstance(step, Reap) else step.perform(ledger)


def _result(step: Step, outcome: Any) -> Any:
    if isinstance(step, Start):
        return outcome.created
    if isinstance(step, Activity):
        return outcome.recorded
    if isinstance(step, End):
        return (outcome.terminated, outcome.reason)
    if isinstance(step, Reap):
        return sorted(sid for _, sid, _ in outcome.expired)
    return sorted(outcome.terminated)


def _expected(step: Step, expected: Any, model: Model) -> Any:
    if isinstance(step, End):
        # Ended now: the reason asked for, or the expiry when it came late. Ended before: not
        # terminated, and the ledger answers with the reason recorded then.
        recorded_then = model.sessions[(step.tenant, step.session)].reason
        return (expected == step.reason, expected if expected is not None else recorded_then)
    return sorted(expected) if isinstance(expected, list) else expected


def _same(got: Any, wanted: Any, about: object, what: str) -> None:
    if got != wanted:
        raise Disagreement(f"{what}: the ledger gave {got!r}, the model {wanted!r}, for {about}")


def assert_ledger_agrees(ledger: SessionLedger, model: Model, now: datetime) -> None:
    """Every session and account, as the repository returns them, is as the model says."""
    for (tenant, sid), expected in model.sessions.items():
        session: Session = ledger.repository.get(session_uuid(tenant, sid))
        got = (
            session.is_active_at(now), session.termination_reason, session.terminated_by,
            session.ended_at, session.last_active_at, session.ip,
            [a["id"] for a in session.applications],
        )  # fmt: skip
        wanted = (
            expected.active_at(now), expected.reason, expected.actor, expected.ended_at,
            expected.last_active, expected.ip, expected.apps,
        )  # fmt: skip
        _same(got, wanted, f"session {tenant}/{sid}", "state")
    for (tenant, user), sids in model.open_sets.items():
        account: Account | Any = ledger.repository.get(account_uuid(tenant, user))
        if not isinstance(account, Account):
            raise Disagreement(f"no account {tenant}/{user} although the model has one")
        _same(sorted(account.active_session_ids), sorted(sids), f"{tenant}/{user}", "open set")


def assert_views_agree(system: Any, model: Model, now: datetime) -> None:
    """The views the API reads (`LedgerSystem.active`, `.history`) say what the model says.

    Call after the projections caught up (`system.wait(position)`).
    """
    for tenant, user in sorted(model.users()):
        listed = {s.id: s for s in system.active.user_sessions(tenant, user, now=now)}
        _same(set(listed), model.active(tenant, user, now), f"{tenant}/{user}", "active")
        for sid, record in listed.items():
            expected = model.sessions[(tenant, sid)]
            got = (record.last_active_at, [a["id"] for a in record.applications])
            _same(got, (expected.last_active, expected.apps), f"{tenant}/{sid}", "listed")
        history = system.history.user_history(tenant, user, limit=500).sessions
        got_h = sorted((s.id, s.ended_at, s.termination_reason, s.terminated_by) for s in history)
        wanted_h = sorted(
            (s.sid, s.ended_at, s.reason, s.actor) for s in model.history(tenant, user)
        )
        _same(got_h, wanted_h, f"{tenant}/{user}", "history")
