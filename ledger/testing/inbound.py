"""Hypothesis strategies for what each inbound connection's identity provider sends.

For each connection kind, `messages(sender, model, now)` draws one story step that fits what
the model has seen (a session start, a logout, an administrator's end, a password reset, an
account lock, as the kind supports: `KIND_STEPS`) and the HTTP request that IdP would send for
it, signed as it signs (`ledger.testing.senders`): an `InboundMessage` with the step, the path
suffix under `/v1/inbound/{name}`, the headers and the body. POST it to a sandbox serving
`sender.connection(dir)`, tell the model the step (`Sandbox.expect`), and compare
(`Sandbox.check`). Every drawn message is one the ledger accepts. The times of `oidc` and
`saml` steps are `now` (those messages carry none; the ledger stamps them on arrival).
Needs hypothesis (`pip install session-ledger[testing]`).
Tests: tests/testing_kit/test_inbound_strategies.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st

from ledger.aggregates.rules import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_LIFETIME_S
from ledger.testing.model import Model
from ledger.testing.senders import BUILDERS, KINDS, InboundMessage, Sender
from ledger.testing.story import End, PasswordReset, Revoke, Start, Step

__all__ = ["KINDS", "KIND_STEPS", "InboundMessage", "Sender", "messages"]

KIND_STEPS: dict[str, tuple[str, ...]] = {
    "wso2": ("start", "logout", "admin_end", "reset", "revoke"),
    "keycloak": ("start", "logout", "admin_end", "reset", "revoke"),
    "ssf": ("start", "logout", "admin_end", "reset", "revoke"),
    "oidc": ("logout",),
    "saml": ("logout",),
}
"""The steps each kind's messages can carry (`oidc` and `saml` only end sessions)."""
USERS = ("1801d35e-1339-4c16-9c53-61321cf37fb9", "88251cc6-7408-4b31-a4c7-b2840d99b916")
APPS = (None, "eb395ddd-1280-46e9-98fb-810948c1dab4")


@st.composite
def messages(
    draw: st.DrawFn,
    sender: Sender,
    model: Model,
    now: datetime,
    *,
    idle: int = DEFAULT_IDLE_TIMEOUT_S,
    max_life: int = DEFAULT_MAX_LIFETIME_S,
) -> InboundMessage:
    """One message of `sender` after `now` that the ledger accepts, given the story `model` saw.

    `idle` and `max_life` are the ledger's default limits (IdPs send none with a login).
    `oidc` and `saml` messages only end sessions: with none open in the sender's tenant they
    raise ValueError (start sessions another way first, e.g. `Sandbox.play(Start(...))`).
    """
    at = now.replace(microsecond=0) + timedelta(seconds=draw(st.integers(1, 600)))
    if sender.kind in ("oidc", "saml"):
        at = now
    step, user = draw(_steps(sender, model, at, idle=idle, max_life=max_life))
    return BUILDERS[sender.kind](sender, step, user)


@st.composite
def _steps(
    draw: st.DrawFn, sender: Sender, model: Model, at: datetime, *, idle: int, max_life: int
) -> tuple[Step, str]:
    """A step of `sender`'s kind and the user it concerns (an `End` names only a session)."""
    tenant = sender.tenant
    open_ = sorted(s.sid for (t, _), s in model.sessions.items() if t == tenant and s.active_at(at))
    kinds = [k for k in KIND_STEPS[sender.kind] if open_ or k not in ("logout", "admin_end")]
    if not kinds:
        raise ValueError(f"{sender.kind} messages only end sessions: start one first")
    kind = draw(st.sampled_from(kinds))
    user = draw(st.sampled_from(USERS))
    admin = f"{sender.name}:admin"
    if kind == "start":
        taken = {sid for (t, sid) in model.sessions if t == tenant}
        sid = draw(st.uuids().map(str).filter(lambda s: s not in taken))
        app = None if sender.kind == "ssf" else draw(st.sampled_from(APPS))
        ip = None if sender.kind == "ssf" else draw(st.sampled_from((None, "203.0.113.10")))
        return Start(tenant, user, sid, at, app, ip, idle, max_life), user
    if kind in ("logout", "admin_end"):
        sid = draw(st.sampled_from(open_))
        owner = model.sessions[(tenant, sid)].user
        if kind == "logout":
            actor = sender.issuer if sender.kind in ("oidc", "saml") else owner
            return End(tenant, sid, at, "logout", actor), owner
        if sender.kind == "keycloak":
            admin = "a6c2d0f4-0b8e-4a6e-9d3c-2f7f1e3c9b10"  # the admin's user id
        return End(tenant, sid, at, "admin_terminated", admin), owner
    if kind == "reset":
        own = [s.sid for s in model.sessions.values() if s.user == user and s.sid in open_]
        keep = draw(st.sampled_from([None, *own])) if sender.kind == "keycloak" else None
        return PasswordReset(tenant, user, at, user, keep), user
    reason = "account_disabled" if sender.kind == "ssf" else "account_locked"
    return Revoke(tenant, user, at, reason, f"{sender.name}:system"), user
