"""Random command sequences against `SessionLedger` and against the kit's reference model.

Property: after every step, for every user, the set of active sessions, and for every session
its recorded end reason, actor, end time, last activity, address and applications, are the same
in the ledger and in `ledger.testing.model.Model`; each command's own result (created, recorded,
the reason, the ids ended, the refusal's kind) is the model's; no session recorded before a
password reset is active after it; and every aggregate rebuilt from its stored events alone (no
snapshot, no cache) equals the one the repository returns.
Why a model: the model re-implements the documented rules (README) in plain Python without the
library or the aggregates (an import-linter contract keeps it so), so a wrong rule in the ledger
is not also the reference.
What stops it passing trivially: the test itself counts what the runs did (sessions started,
ended by a command, expired, resets, refusals) and fails unless every kind happened.
The machine is the kit's `LedgerStateMachine` (the stories' steps) plus rules of its own:
back-dated starts, a termination naming the wrong user, and refusals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from eventsourcing.application import project_aggregate
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from ledger.aggregates import account_uuid, session_uuid
from ledger.testing.checks import Disagreement, refusal_of
from ledger.testing.machine import LedgerStateMachine
from ledger.testing.model import ModelError
from ledger.testing.story import End, EndAll, PasswordReset, Reap, Revoke, Start, Step

TENANTS = st.sampled_from(["acme", "globex"])
USERS = st.sampled_from(["alice", "bob", "carol"])
SIDS = st.sampled_from([f"s{i}" for i in range(8)])
PAST = st.integers(min_value=0, max_value=400)


class LedgerMachine(LedgerStateMachine):
    """The kit's machine on the command side alone, with this suite's extra rules."""

    views = False
    stats: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        self.resets: list[tuple[str, set[str]]] = []

    def after(self, step: Step, expected: Any) -> None:
        """Remember what each reset must have ended; count what happened."""
        if isinstance(step, PasswordReset):
            mine = {s.sid for s in self.model.history(step.tenant, step.user)}
            self.resets.append((step.tenant, mine - {step.keep or ""}))
            self.stats["resets"] += 1
        elif isinstance(step, Start):
            self.stats["started"] += int(bool(expected))
        elif isinstance(step, Reap):
            self.stats["expired"] += len(expected or [])
        elif isinstance(step, End | EndAll | Revoke):
            self.stats["ended"] += (
                len(expected) if isinstance(expected, list) else int(bool(expected))
            )

    def both(self, ledger_call: Callable[[], Any], model_call: Callable[[], Any]) -> Any:
        """Run on both; the same refusal (by kind) or the results, (expected, outcome)."""
        try:
            expected = model_call()
        except ModelError as e:
            kind, error = refusal_of(ledger_call)
            if kind != e.kind:
                raise Disagreement(f"refused as {kind!r} ({error!r}), model: {e.kind!r}") from None
            self.stats[f"refused:{kind}"] += 1
            event(f"refused: {kind}")
            return None
        kind, outcome = refusal_of(ledger_call)
        assert kind is None, outcome
        return expected, outcome

    @rule(tenant=TENANTS, user=USERS, sid=SIDS, back=PAST, ip=st.sampled_from([None, "10.0.0.1"]))
    def start_back_dated(self, tenant: str, user: str, sid: str, back: int, ip: str | None) -> None:
        """A start reported late (or a repeated/conflicting one, on a reused id)."""
        now = self.sandbox.clock()
        at = now - timedelta(seconds=back)
        pair = self.both(
            lambda: self.sandbox.ledger.start_session(
                tenant=tenant, user_id=user, session_id=sid, at=at, ip=ip,
                idle_timeout_s=300, max_lifetime_s=900,
            ),
            lambda: self.model.start(
                tenant, sid, user, at, now, idle=300, max_life=900, app=None, ip=ip
            ),
        )  # fmt: skip
        if pair is not None:
            created, outcome = pair
            assert outcome.created == created
            self.stats["started"] += int(created)

    @rule(tenant=TENANTS, sid=SIDS, as_user=USERS)
    def terminate_as_user(self, tenant: str, sid: str, as_user: str) -> None:
        """A user ends a session: refused (not found) unless it is theirs."""
        now = self.sandbox.clock()
        pair = self.both(
            lambda: self.sandbox.ledger.terminate_session(
                tenant=tenant, session_id=sid, reason="user_terminated", actor=as_user,
                user_id=as_user,
            ),
            lambda: self.model.terminate(
                tenant, sid, now, "user_terminated", as_user, user=as_user
            ),
        )  # fmt: skip
        if pair is not None:
            recorded, outcome = pair
            expected_reason = self.model.sessions[(tenant, sid)].reason  # recorded now or before
            assert (outcome.terminated, outcome.reason) == (
                recorded == "user_terminated",
                expected_reason,
            )
            self.stats["ended"] += int(recorded is not None)

    @invariant()
    def no_session_before_a_reset_is_active(self) -> None:
        now = self.sandbox.clock()
        for tenant, before in self.resets:
            for sid in before:
                session = self.sandbox.ledger.repository.get(session_uuid(tenant, sid))
                if session.is_active_at(now):
                    raise Disagreement(f"{tenant}/{sid} is active after a password reset")

    @invariant()
    def aggregates_rebuild_from_events_alone(self) -> None:
        ledger = self.sandbox.ledger
        ids = [session_uuid(t, s) for t, s in self.model.sessions]
        ids += [account_uuid(t, u) for t, u in self.model.open_sets]
        for aggregate_id in ids:
            from_repository = ledger.repository.get(aggregate_id)
            rebuilt = project_aggregate(None, ledger.events.get(aggregate_id))
            assert rebuilt is not None
            assert vars(rebuilt) == vars(from_repository)


def test_ledger_agrees_with_the_model(backend: str, tmp_path: Path, request: Any) -> None:
    """The state machine on each backend, a fresh database per example; then what it did."""
    counter = iter(range(10**6))
    if backend == "sqlite":

        def new_url() -> str:
            return f"sqlite:///{tmp_path}/m{next(counter)}.sqlite3"

    else:
        base = str(request.getfixturevalue("database_url"))

        def new_url() -> str:
            return base.replace("?schema=", f"?schema=m{next(counter)}_")

    stats: Counter[str] = Counter()
    machine: Any = type("Machine", (LedgerMachine,), {"stats": stats})
    machine.run(new_url)
    print(f"machine stats: {dict(stats)}")
    assert stats["started"] > 0, stats
    assert stats["resets"] > 0, stats
    assert stats["expired"] > 0, stats
    assert stats["ended"] > 0, stats
    assert any(k.startswith("refused:") for k in stats), stats
