"""Hypothesis strategies for what an identity provider tells the ledger.

`ids()`, `tenants()`, `users()` make values the ledger and its API accept; `next_step(model,
now)` draws one step that fits the story so far (it ends or uses sessions that exist, its time
never goes back); `stories()` draws whole stories: sessions starting, showing activity and
joining applications, ending by every reason (logout, closed browser, user, administrator,
idle timeout and lifetime through the reaper), password resets and account revocations.
By default every step is one the ledger accepts (`refusals=False`), so an integration under test
needs no error handling; with `refusals=True` stories also hold steps the reference model says
the ledger must refuse (activity after an end, a conflicting start). Needs hypothesis
(`pip install session-ledger[testing]`).
Tests: tests/testing_kit/test_story.py.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from ledger.testing.model import Model, ModelError
from ledger.testing.story import (
    EPOCH,
    IDP_REASONS,
    REVOKE_REASONS,
    USER_REASONS,
    Activity,
    End,
    EndAll,
    PasswordReset,
    Reap,
    Revoke,
    Start,
    Step,
)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@:"


def ids(*, max_size: int = 40) -> st.SearchStrategy[str]:
    """External ids (users, sessions) that fit anywhere, API paths included."""
    return st.text(alphabet=_ID_CHARS, min_size=1, max_size=max_size)


def tenants() -> st.SearchStrategy[str]:
    """Tenant names (letters, digits and `._:@-`)."""
    return ids(max_size=20)


def users() -> st.SearchStrategy[str]:
    """User ids as an identity provider sends them."""
    return ids()


@dataclass(frozen=True)
class Cast:
    """Who and what a story may mention: small pools make sessions meet and collide."""

    tenants: tuple[str, ...] = ("acme", "globex")
    users: tuple[str, ...] = ("alice", "bob", "carol")
    apps: tuple[str | None, ...] = (None, "mail", "crm")
    ips: tuple[str | None, ...] = (None, "192.0.2.10", "2001:db8::1")
    actors: tuple[str, ...] = ("idp", "alice", "admin-1")
    idle: tuple[int, ...] = (300, 1800)
    max_life: tuple[int, ...] = (900, 7200)
    ingest_only: bool = False
    """Only steps the JSON ingest API carries (no `EndAll`, no reaper, IdP reasons only)."""


SECONDS = st.one_of(st.integers(0, 120), st.integers(0, 120), st.integers(0, 2400))
"""How far a step lies after the one before: mostly minutes, sometimes beyond an idle limit."""
REAP_SECONDS = st.integers(0, 8000)
SESSION_NUMBERS = st.integers(0, 40)


@st.composite
def next_step(
    draw: st.DrawFn, model: Model, now: datetime, cast: Cast = Cast(), refusals: bool = False
) -> Step:
    """One step after `now` that fits the story `model` has seen."""
    for _ in range(20):
        step = _candidate(draw, model, now, cast)
        if refusals or _accepted(model, step):
            return step
    return PasswordReset(cast.tenants[0], cast.users[0], now, cast.actors[0])  # always accepted


def _accepted(model: Model, step: Step) -> bool:
    """Would the model accept `step` (without running it: only starts and activity refuse)."""
    if isinstance(step, Start):
        return (step.tenant, step.session) not in model.sessions
    if isinstance(step, Activity):
        s = model.sessions.get((step.tenant, step.session))
        return s is not None and s.ended_at is None and s.started <= step.at < s.expires()
    return True


def _kinds(cast: Cast, known: bool) -> tuple[str, ...]:
    kinds: tuple[str, ...] = ("start",) * 3 + ("reset", "revoke")
    if known:
        kinds += ("activity",) * 3 + ("end",) * 2
    return kinds if cast.ingest_only else (*kinds, "end_all", "reap")


def _candidate(draw: st.DrawFn, model: Model, now: datetime, cast: Cast) -> Step:  # noqa: PLR0911
    def one(pool: tuple[Any, ...] | list[Any]) -> Any:
        return pool[draw(st.integers(0, len(pool) - 1))]  # st.integers is cached, cheap

    known = sorted(model.sessions)
    kind = one(_kinds(cast, bool(known)))
    at = now + timedelta(seconds=draw(REAP_SECONDS if kind == "reap" else SECONDS))
    tenant, user, actor = one(cast.tenants), one(cast.users), one(cast.actors)
    if kind == "start":
        sid = f"s{draw(SESSION_NUMBERS)}"
        return Start(tenant, user, sid, at, one(cast.apps), one(cast.ips), one(cast.idle),
                     one(cast.max_life))  # fmt: skip
    if kind == "activity":
        running = [k for k in known if model.sessions[k].ended_at is None] or known
        ref = one(running)
        return Activity(ref[0], ref[1], at, one(cast.apps), one(cast.ips))
    if kind == "end":
        ref = one(known)
        reasons = IDP_REASONS if cast.ingest_only else IDP_REASONS + USER_REASONS
        return End(ref[0], ref[1], at, one(reasons), actor)
    if kind == "reset":
        keep = one([None, *(sid for _, sid in known)])
        return PasswordReset(tenant, user, at, actor, keep)
    if kind == "revoke":
        return Revoke(tenant, user, at, one(REVOKE_REASONS), actor)
    if kind == "end_all":
        return EndAll(tenant, user, at, actor)
    return Reap(at)


@st.composite
def stories(
    draw: st.DrawFn,
    *,
    cast: Cast = Cast(),
    start: datetime = EPOCH,
    min_steps: int = 1,
    max_steps: int = 30,
    refusals: bool = False,
) -> list[Step]:
    """A whole story: steps in time order, each fitting what came before."""
    model, now, story = Model(), start, []
    for _ in range(draw(st.integers(min_steps, max_steps))):
        step = draw(next_step(model, now, cast, refusals))
        with contextlib.suppress(ModelError):  # a refused step changes nothing
            step.expect(model)
        now = max(now, step.at)
        story.append(step)
    return story
