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
import copy
from dataclasses import dataclass
from datetime import datetime, timedelta

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


@st.composite
def next_step(
    draw: st.DrawFn, model: Model, now: datetime, cast: Cast = Cast(), refusals: bool = False
) -> Step:
    """One step after `now` that fits the story `model` has seen."""
    for _ in range(20):
        step = draw(_candidate(model, now, cast))
        if refusals or _accepted(model, step):
            return step
    return PasswordReset(cast.tenants[0], cast.users[0], now, cast.actors[0])  # always accepted


def _accepted(model: Model, step: Step) -> bool:
    try:
        step.expect(copy.deepcopy(model))
    except ModelError:
        return False
    return True


def _candidate(model: Model, now: datetime, cast: Cast) -> st.SearchStrategy[Step]:
    seconds = st.one_of(st.integers(0, 120), st.integers(0, 120), st.integers(0, 2400))
    later = seconds.map(lambda s: now + timedelta(seconds=s))
    known = sorted(model.sessions)
    pick = st.sampled_from
    starts = st.builds(
        Start, tenant=pick(cast.tenants), user=pick(cast.users),
        session=st.integers(0, 40).map(lambda n: f"s{n}"), at=later, app=pick(cast.apps),
        ip=pick(cast.ips), idle=pick(cast.idle), max_life=pick(cast.max_life),
    )  # fmt: skip
    users = st.tuples(pick(cast.tenants), pick(cast.users))
    reasons = IDP_REASONS if cast.ingest_only else IDP_REASONS + USER_REASONS
    options: list[st.SearchStrategy[Step]] = [starts] * 3
    if known:
        ref = pick(known)
        activity = st.builds(
            lambda r, at, a, ip: Activity(r[0], r[1], at, a, ip),
            ref,
            later,
            pick(cast.apps),
            pick(cast.ips),
        )
        end = st.builds(
            lambda r, at, why, who: End(r[0], r[1], at, why, who),
            ref,
            later,
            pick(reasons),
            pick(cast.actors),
        )
        options += [activity] * 3 + [end] * 2  # fmt: skip
    keep = st.none() | pick([s for _, s in known] or ["s0"])
    options += [
        st.builds(lambda u, at, who, kept: PasswordReset(u[0], u[1], at, who, kept),
                  users, later, pick(cast.actors), keep),
        st.builds(lambda u, at, why, who: Revoke(u[0], u[1], at, why, who),
                  users, later, pick(REVOKE_REASONS), pick(cast.actors)),
    ]  # fmt: skip
    if not cast.ingest_only:
        options += [
            st.builds(lambda u, at, who: EndAll(u[0], u[1], at, who),
                      users, later, pick(cast.actors)),
            st.builds(Reap, at=st.integers(0, 8000).map(lambda s: now + timedelta(seconds=s))),
        ]  # fmt: skip
    return st.one_of(options)


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
