"""The reference model answers from the documented rules (expiry, reasons, resets, history).

Each test states a rule of README and the model's answer; they would fail if the model drifted
from the rules the ledger is held to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.testing.model import Model, ModelError

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def started(**limits: int) -> Model:
    model = Model()
    idle, life = limits.get("idle", 300), limits.get("max_life", 900)
    model.start("t", "s1", "alice", T0, T0, idle=idle, max_life=life, app="mail", ip=None)
    return model


def test_open_at_follows_activity_and_the_end() -> None:
    model = started()
    model.activity("t", "s1", at(200), None)
    model.terminate("t", "s1", at(450), "logout", "alice")
    assert model.open_at("t", "alice", at(-1)) == set()
    assert model.open_at("t", "alice", at(250)) == {"s1"}  # idle 300 from the start: 300
    assert model.open_at("t", "alice", at(449)) == {"s1"}  # extended by the activity at 200
    assert model.open_at("t", "alice", at(450)) == set()
    assert model.active("t", "alice", at(451)) == set()


def test_a_session_is_not_open_at_a_moment_it_had_already_expired_then() -> None:
    model = started()
    assert model.open_at("t", "alice", at(299)) == {"s1"}
    assert model.open_at("t", "alice", at(300)) == set()


def test_a_late_termination_is_recorded_as_the_expiry_that_came_first() -> None:
    model = started(idle=600, max_life=400)
    assert model.terminate("t", "s1", at(1000), "logout", "alice") == "max_lifetime"
    (session,) = model.history("t", "alice")
    assert (session.ended_at, session.reason, session.actor) == (at(400), "max_lifetime", "system")


def test_a_reset_ends_all_but_the_kept_session_with_reason_and_actor() -> None:
    model = started()
    model.start("t", "s2", "alice", T0, T0, idle=300, max_life=900, app=None, ip=None)
    ended = model.bulk("t", "alice", at(10), "password_reset", "idp", keep="s2")
    assert ended == ["s1"]
    reasons = {s.sid: (s.reason, s.actor) for s in model.history("t", "alice")}
    assert reasons == {"s1": ("password_reset", "idp"), "s2": (None, None)}


@pytest.mark.parametrize(
    ("call", "kind"),
    [
        (lambda m: m.activity("t", "s1", at(300), None), "ended"),
        (lambda m: m.activity("t", "s9", at(1), None), "not_found"),
        (lambda m: m.terminate("t", "s1", at(1), "logout", "bob", user="bob"), "not_found"),
        (
            lambda m: m.start("t", "s1", "bob", T0, T0, idle=300, max_life=900, app=None, ip=None),
            "conflict",
        ),
        (
            lambda m: m.start("t", "s2", "bob", at(301), T0, idle=1, max_life=1, app=None, ip=None),
            "future",
        ),
    ],
)
def test_refusals_have_a_kind(call: object, kind: str) -> None:
    model = started()
    with pytest.raises(ModelError) as refused:
        call(model)  # type: ignore[operator]
    assert refused.value.kind == kind
