"""What each ledger event tells the apps: a pure mapping from a decoded event to a `Signal`.

One event gives at most one signal, the SSF event type (CAEP 1.0 / RISC 1.0) and its Standard
Webhooks twin. The subjects a termination needs (tenant, user, IdP session id) come from the
earlier `Session.Started` and `Account.Registered` events; `Subjects` remembers them, so
`signals_of_log` is a pure function of the log. Reasons map to CAEP's `initiating_entity`
(CAEP 1.0 §2) as in `REASONS`. Tests: tests/outbound/test_signals.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.aggregates.ids import event_uuid

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
SESSION_REVOKED = CAEP + "session-revoked"  # CAEP 1.0 §3.1
SESSION_ESTABLISHED = CAEP + "session-established"  # CAEP 1.0 §3.6
CREDENTIAL_CHANGE = CAEP + "credential-change"  # CAEP 1.0 §3.3
ACCOUNT_DISABLED = RISC + "account-disabled"  # RISC 1.0 §2.3
ACCOUNT_PURGED = RISC + "account-purged"  # RISC 1.0 §2.2
VERIFICATION = SSF + "verification"  # SSF 1.0 §8.1.4.1
STREAM_UPDATED = SSF + "stream-updated"  # SSF 1.0 §8.1.5
EVENTS_SUPPORTED = (
    SESSION_REVOKED,
    SESSION_ESTABLISHED,
    CREDENTIAL_CHANGE,
    ACCOUNT_DISABLED,
    ACCOUNT_PURGED,
)
WEBHOOK_TYPES = (
    "session.started",
    "session.terminated",
    "account.password_reset",
    "account.revoked",
)

TOPICS = (
    "ledger.aggregates.session:Session.Started",
    "ledger.aggregates.session:Session.Terminated",
    "ledger.aggregates.account:Account.Registered",
    "ledger.aggregates.account:Account.PasswordReset",
    "ledger.aggregates.account:Account.Revoked",
)

# reason -> (initiating_entity, reason_admin), CAEP 1.0 §2 (reason_admin non-empty: SSF interop)
REASONS: dict[str, tuple[str, str]] = {
    "logout": ("user", "User logged out"),
    "browser_closed": ("user", "Browser session closed"),
    "user_terminated": ("user", "Session revoked by user"),
    "admin_terminated": ("admin", "Session revoked by administrator"),
    "password_reset": ("admin", "Password reset"),
    "account_locked": ("policy", "Account locked"),
    "account_disabled": ("admin", "Account disabled"),
    "account_deleted": ("admin", "Account deleted"),
    "idle_timeout": ("system", "Session idle timeout"),
    "max_lifetime": ("system", "Session maximum lifetime reached"),
}
RISC_FOR_REVOKE = {
    "account_locked": ACCOUNT_DISABLED,  # RISC has no "locked": a lock disables the account
    "account_disabled": ACCOUNT_DISABLED,
    "account_deleted": ACCOUNT_PURGED,
}


@dataclass(frozen=True)
class Signal:
    """One thing to tell receivers, derived from one ledger event."""

    event_id: str  # the ledger event's stable id: webhook-id, and the seed of every jti
    event_type: str  # the SSF event type URI
    webhook_type: str
    tenant: str
    user_id: str
    session_id: str | None
    txn: str  # RFC 8417 §2.2: shared by the SETs of one cause
    issued: int  # when the ledger recorded the event (seconds): the SET's `iat`
    claims: dict[str, Any]  # the event's members inside `events`
    data: dict[str, Any]  # the webhook payload's `data`


@dataclass
class Subjects:
    """Who each aggregate is about: a session's tenant, user and IdP id; an account's tenant
    and user."""

    sessions: dict[UUID, tuple[str, str, str]] = field(default_factory=dict)
    accounts: dict[UUID, tuple[str, str]] = field(default_factory=dict)

    def learn(self, event: Any) -> None:
        """Remember the subject an event introduces (a start or an account registration)."""
        kind = type(event).__qualname__
        if kind == "Session.Started":
            self.sessions[event.originator_id] = (event.tenant, event.user_id, event.session_id)
        elif kind == "Account.Registered":
            self.accounts[event.originator_id] = (event.tenant, event.user_id)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _reason_claims(reason: str, actor: str, user_id: str, at: datetime) -> dict[str, Any]:
    entity, text = REASONS.get(reason, ("system", reason))
    if reason == "password_reset" and actor == user_id:
        entity = "user"  # a self-service reset
    return {
        "event_timestamp": _seconds(at),  # CAEP 1.0 §2: seconds
        "initiating_entity": entity,
        "reason_admin": {"en": text},  # SSF interop: non-empty for session-revoked
        "reason_user": {"en": text},
        "reason_code": reason,  # SSF 1.0 "Additional fields": the ledger's own reason
    }


def signal_of(event: Any, subjects: Subjects) -> Signal | None:
    """The signal of one decoded event (None for events receivers are not told about)."""
    kind = type(event).__qualname__
    event_id = str(event_uuid(event.originator_id, event.originator_version))
    issued = _seconds(event.timestamp)
    if kind == "Session.Started":
        return _started(event, event_id, issued)
    if kind == "Session.Terminated":
        tenant, user_id, sid = subjects.sessions[event.originator_id]
        claims = _reason_claims(event.reason, event.actor, user_id, event.at)
        data = {
            "tenant": tenant,
            "user_id": user_id,
            "session_id": sid,
            "reason": event.reason,
            "actor": event.actor,
            "cause": event.cause,
            "ended_at": event.at.isoformat(),
            "initiating_entity": claims["initiating_entity"],
        }
        txn = event.cause or event_id
        return Signal(
            event_id, SESSION_REVOKED, "session.terminated", tenant, user_id, sid, txn, issued,
            claims, data,
        )  # fmt: skip
    if kind in ("Account.PasswordReset", "Account.Revoked"):
        return _account(event, kind, subjects, event_id, issued)
    return None


def _started(event: Any, event_id: str, issued: int) -> Signal:
    claims: dict[str, Any] = {"event_timestamp": _seconds(event.at)}
    if event.auth_methods:
        claims["amr"] = list(event.auth_methods)  # CAEP 1.0 §3.6.1
    data = {
        "tenant": event.tenant,
        "user_id": event.user_id,
        "session_id": event.session_id,
        "started_at": event.at.isoformat(),
        "ip": event.ip,
        "application": event.application,
    }
    return Signal(
        event_id, SESSION_ESTABLISHED, "session.started", event.tenant, event.user_id,
        event.session_id, event_id, issued, claims, data,
    )  # fmt: skip


def _account(event: Any, kind: str, subjects: Subjects, event_id: str, issued: int) -> Signal:
    tenant, user_id = subjects.accounts[event.originator_id]
    reason = "password_reset" if kind == "Account.PasswordReset" else event.reason
    claims = _reason_claims(reason, event.actor, user_id, event.at)
    data = {
        "tenant": tenant,
        "user_id": user_id,
        "actor": event.actor,
        "at": event.at.isoformat(),
        "sessions_terminated": list(event.closed),
    }
    if kind == "Account.PasswordReset":
        # CAEP 1.0 §3.3: the password was changed; "reset" is told by initiating_entity.
        claims.update({"credential_type": "password", "change_type": "update"})
        return Signal(
            event_id, CREDENTIAL_CHANGE, "account.password_reset", tenant, user_id, None,
            event.reset_id, issued, claims, data,
        )  # fmt: skip
    data["reason"] = reason
    return Signal(
        event_id, RISC_FOR_REVOKE[reason], "account.revoked", tenant, user_id, None,
        event.revoke_id, issued, claims, data,
    )  # fmt: skip


def signals_of_log(events: Iterable[Any], subjects: Subjects | None = None) -> Iterator[Signal]:
    """Every signal of a run of decoded events, in log order (pure)."""
    known = subjects if subjects is not None else Subjects()
    for event in events:
        known.learn(event)
        signal = signal_of(event, known)
        if signal is not None:
            yield signal
