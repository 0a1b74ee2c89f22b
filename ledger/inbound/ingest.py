"""The JSON ingest API as an inbound adapter: its validated bodies mapped to ledger commands.

The sender is verified by its bearer token (`sessions:ingest`, in the API's auth); there is
no sender event id to drop replays by, because every ingest command is idempotent by itself
(a repeated start answers 200, a second termination records nothing). The token's `sub` is
the actor of the terminations it reports. `POST /v1/events` maps each item of a batch the same
way and runs them as one batch (`run_batch`). Tests: tests/api/test_ingest.py,
tests/api/test_events.py.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.aggregates.errors import LedgerError
from ledger.application import SessionLedger
from ledger.inbound.commands import (
    Command,
    EndSession,
    RecordActivity,
    ResetPassword,
    RevokeAccount,
    StartSession,
)
from ledger.outcomes import Outcome


def start(body: Mapping[str, Any]) -> StartSession:
    """`POST /v1/sessions`."""
    return StartSession(
        user_id=body["user_id"],
        session_id=body.get("session_id"),
        at=body.get("started_at"),
        ip=body.get("ip"),
        user_agent=body.get("user_agent"),
        application=body.get("application"),
        auth_methods=body.get("auth_methods"),
        idle_timeout_s=body.get("idle_timeout_s"),
        max_lifetime_s=body.get("max_lifetime_s"),
    )


def activity(session_id: str, body: Mapping[str, Any]) -> RecordActivity:
    """`POST /v1/sessions/{session_id}/activity`."""
    return RecordActivity(
        session_id, at=body.get("at"), ip=body.get("ip"), application=body.get("application")
    )


def terminate(session_id: str, body: Mapping[str, Any], *, actor: str) -> EndSession:
    """`POST /v1/sessions/{session_id}/terminate` (`logout` or `browser_closed`)."""
    return EndSession(session_id, body["reason"], actor, at=body.get("at"))


def password_reset(user_id: str, body: Mapping[str, Any], *, actor: str) -> ResetPassword:
    """`POST /v1/users/{user_id}/password-reset`."""
    return ResetPassword(
        user_id, actor, at=body.get("at"), keep_session_id=body.get("keep_session_id")
    )


def revoke(user_id: str, body: Mapping[str, Any], *, actor: str) -> RevokeAccount:
    """`POST /v1/users/{user_id}/revoke`."""
    return RevokeAccount(user_id, body["reason"], actor, at=body.get("at"))


def event(item: Mapping[str, Any], *, actor: str) -> Command:
    """One item of `POST /v1/events` (its `type` names the single-event route it stands for)."""
    kind = item["type"]
    if kind == "start":
        return start(item)
    if kind == "activity":
        return activity(item["session_id"], item)
    if kind == "terminate":
        return terminate(item["session_id"], item, actor=actor)
    if kind == "password_reset":
        return password_reset(item["user_id"], item, actor=actor)
    assert kind == "revoke", kind
    return revoke(item["user_id"], item, actor=actor)


def run_batch(
    ledger: SessionLedger, tenant: str, commands: Sequence[Command]
) -> tuple[list[Outcome | LedgerError], int | None]:
    """Run `commands` as one batch (`SessionLedger.batch`): one transaction, one answer each.

    Connectors that receive several messages at once run their commands the same way.
    """
    return ledger.batch([functools.partial(c.run, ledger, tenant) for c in commands])
