"""What an identity provider's connection is told to end: a pure decision per termination.

Every `Session.Terminated` of the connection's tenant becomes one message for the IdP's
session API, except:

* a termination that came from that very connection: its `cause` is `<connection>:<sender
  event id>` (every inbound adapter records it so), and echoing it back would be a loop;
* an expiry (`idle_timeout`, `max_lifetime`) unless the connection says `enforce_expiry`:
  the IdP keeps its own timers, and the ledger's expiry is what it inferred from them.

The terminations of one password reset or account revocation (reasons in `USER_WIDE`,
sharing one `cause`) become ONE message, "end all the user's sessions": its id is derived
from the user and the cause, so the outbox keeps it once however many sessions ended.
Every other termination ends its one session. Ids are stable across restarts (`jti_for`).
Tests: tests/enforcement/test_decisions.py.
"""

from __future__ import annotations

from typing import Any

from ledger.outbound.sets import jti_for
from ledger.outbound.signals import Signal

USER_WIDE = frozenset({"password_reset", "account_locked", "account_disabled", "account_deleted"})
EXPIRY = frozenset({"idle_timeout", "max_lifetime"})
SESSION, USER = "session", "user"  # what a message ends: one session, or all of a user's


def came_from(cause: str | None, connection: str) -> bool:
    """Whether a termination's cause names `connection` (connection names hold no ':')."""
    return cause is not None and cause.startswith(f"{connection}:")


def message_for(
    signal: Signal, *, receiver_id: str, connection: str, enforce_expiry: bool
) -> tuple[str, dict[str, Any]] | None:
    """The (message id, body) telling the connection's IdP to end what `signal` ended."""
    if signal.webhook_type != "session.terminated":
        return None
    data = signal.data
    cause, reason = data["cause"], data["reason"]
    if came_from(cause, connection):
        return None  # never echo a termination back to the IdP it came from
    if reason in EXPIRY and not enforce_expiry:
        return None
    body: dict[str, Any] = {
        "user_id": data["user_id"],
        "reason": reason,
        "cause": cause,
        "event_id": signal.event_id,
    }
    if reason in USER_WIDE and cause:
        key = f"{data['user_id']}/{cause}"
        return jti_for(receiver_id, key, "end-user-sessions"), {**body, "scope": USER}
    body.update(scope=SESSION, session_id=data["session_id"])
    return jti_for(receiver_id, signal.event_id, "end-session"), body
