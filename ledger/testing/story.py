"""Stories: what an identity provider tells the ledger, step by step, as plain data.

A story is a list of steps with non-decreasing times (`Step.at`): sessions starting, showing
activity or joining applications, ending by each reason, password resets, account revocations,
and the reaper passing. Each step can be applied to the reference model (`expect`), to a
`SessionLedger` (`perform`, the clock set to the step's time by the caller) and turned into the
JSON ingest API's request (`ingest_request`), so the same story drives the model, the ledger
and an integration over HTTP. Plain data, no I/O, no ledger imports: the strategies that make
stories are in `ledger.testing.strategies`.
Tests: tests/testing_kit/test_story.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.testing.model import Model

EPOCH = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
"""Where stories begin unless told otherwise."""
IDP_REASONS = ("logout", "browser_closed")
"""The reasons the identity provider reports for one session (the ingest API accepts them)."""
USER_REASONS = ("user_terminated", "admin_terminated")
"""The reasons of a user or an administrator ending one session."""
REVOKE_REASONS = ("account_locked", "account_disabled", "account_deleted")
"""Why an account is revoked (every session of it ends)."""
EXPIRY_REASONS = ("idle_timeout", "max_lifetime")
"""What the reaper (or a late termination) records."""


Ledger = Any
"""A `ledger.application.SessionLedger` (not imported: stories share no code with the ledger)."""


Request = tuple[str, str, dict[str, Any]]
"""An HTTP method, a path under the API root and a JSON body."""


def _app(app: str | None) -> dict[str, str] | None:
    return {"id": app, "name": app} if app else None


@dataclass(frozen=True)
class Start:
    """A user signed in: a session starts."""

    tenant: str
    user: str
    session: str
    at: datetime
    app: str | None = None
    ip: str | None = None
    idle: int = 1800
    max_life: int = 36000

    def expect(self, model: Model) -> Any:
        """True when the model creates the session (ModelError when it must be refused)."""
        return model.start(
            self.tenant, self.session, self.user, self.at, self.at,
            idle=self.idle, max_life=self.max_life, app=self.app, ip=self.ip,
        )  # fmt: skip

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.start_session(
            tenant=self.tenant, user_id=self.user, session_id=self.session, at=self.at,
            ip=self.ip, application=_app(self.app), idle_timeout_s=self.idle,
            max_lifetime_s=self.max_life,
        )  # fmt: skip

    def ingest_request(self) -> Request:
        """`POST /v1/sessions`."""
        body: dict[str, Any] = {
            "session_id": self.session, "user_id": self.user, "started_at": self.at.isoformat(),
            "idle_timeout_s": self.idle, "max_lifetime_s": self.max_life,
        }  # fmt: skip
        if self.app:
            body["application"] = _app(self.app)
        if self.ip:
            body["ip"] = self.ip
        return "POST", "/v1/sessions", body


@dataclass(frozen=True)
class Activity:
    """The session was used; with `app`, the user signed into a further application (SSO)."""

    tenant: str
    session: str
    at: datetime
    app: str | None = None
    ip: str | None = None

    def expect(self, model: Model) -> Any:
        """True when the model stores the activity (ModelError when refused)."""
        return model.activity(self.tenant, self.session, self.at, self.app, self.ip)

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.record_activity(
            tenant=self.tenant, session_id=self.session, at=self.at,
            application=_app(self.app), ip=self.ip,
        )  # fmt: skip

    def ingest_request(self) -> Request:
        """`POST /v1/sessions/{id}/activity`."""
        body: dict[str, Any] = {"at": self.at.isoformat()}
        if self.app:
            body["application"] = _app(self.app)
        if self.ip:
            body["ip"] = self.ip
        return "POST", f"/v1/sessions/{self.session}/activity", body


@dataclass(frozen=True)
class End:
    """One session ends: a logout, a closed browser, the user or an administrator."""

    tenant: str
    session: str
    at: datetime
    reason: str
    actor: str

    def expect(self, model: Model) -> Any:
        """The reason the model records (None when it had ended already)."""
        return model.terminate(self.tenant, self.session, self.at, self.reason, self.actor)

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.terminate_session(
            tenant=self.tenant, session_id=self.session, at=self.at, reason=self.reason,
            actor=self.actor,
        )  # fmt: skip

    def ingest_request(self) -> Request:
        """`POST /v1/sessions/{id}/terminate` (the actor is the token's subject)."""
        if self.reason not in IDP_REASONS:
            raise ValueError(f"the ingest API does not take {self.reason!r}")
        body = {"reason": self.reason, "at": self.at.isoformat()}
        return "POST", f"/v1/sessions/{self.session}/terminate", body


@dataclass(frozen=True)
class EndAll:
    """An administrator ends every session of the user (but `keep`)."""

    tenant: str
    user: str
    at: datetime
    actor: str
    keep: str | None = None

    def expect(self, model: Model) -> Any:
        """The ids the model ends for `admin_terminated`."""
        return model.bulk(
            self.tenant, self.user, self.at, "admin_terminated", self.actor, keep=self.keep
        )

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.terminate_all(
            tenant=self.tenant, user_id=self.user, reason="admin_terminated", actor=self.actor,
            keep_session_id=self.keep,
        )  # fmt: skip

    def ingest_request(self) -> Request:
        """None: an administrator's act, not the identity provider's (ValueError)."""
        raise ValueError("the ingest API does not carry an administrator's 'end all'")


@dataclass(frozen=True)
class PasswordReset:
    """The user's password was reset: every session of the user ends (but `keep`)."""

    tenant: str
    user: str
    at: datetime
    actor: str
    keep: str | None = None

    def expect(self, model: Model) -> Any:
        """The ids the model ends for `password_reset`."""
        return model.bulk(
            self.tenant, self.user, self.at, "password_reset", self.actor, keep=self.keep,
            records_account=True,
        )  # fmt: skip

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.reset_password(
            tenant=self.tenant, user_id=self.user, actor=self.actor, at=self.at,
            keep_session_id=self.keep,
        )  # fmt: skip

    def ingest_request(self) -> Request:
        """`POST /v1/users/{id}/password-reset` (the actor is the token's subject)."""
        body: dict[str, Any] = {"at": self.at.isoformat()}
        if self.keep:
            body["keep_session_id"] = self.keep
        return "POST", f"/v1/users/{self.user}/password-reset", body


@dataclass(frozen=True)
class Revoke:
    """The account was locked, disabled or deleted: every session of it ends."""

    tenant: str
    user: str
    at: datetime
    reason: str
    actor: str

    def expect(self, model: Model) -> Any:
        """The ids the model ends for the reason."""
        return model.bulk(
            self.tenant, self.user, self.at, self.reason, self.actor, records_account=True
        )

    def perform(self, ledger: Ledger) -> Any:
        """The ledger's command; returns its outcome."""
        return ledger.revoke(
            tenant=self.tenant, user_id=self.user, reason=self.reason, actor=self.actor, at=self.at
        )

    def ingest_request(self) -> Request:
        """`POST /v1/users/{id}/revoke` (the actor is the token's subject)."""
        body = {"reason": self.reason, "at": self.at.isoformat()}
        return "POST", f"/v1/users/{self.user}/revoke", body


@dataclass(frozen=True)
class Reap:
    """The reaper passes: every session past its expiry is recorded as expired."""

    at: datetime

    def expect(self, model: Model) -> Any:
        """The ids the model expires."""
        return model.expire_all(self.at)

    def perform(self, ledger: Ledger, candidates: list[tuple[str, str]]) -> Any:
        """The ledger's reaper over `candidates` (tenant, session id)."""
        return ledger.expire_sessions(candidates, now=self.at)

    def ingest_request(self) -> Request:
        """None: the reaper runs inside the ledger (ValueError)."""
        raise ValueError("the reaper is the ledger's own, not an ingest request")


Step = Start | Activity | End | EndAll | PasswordReset | Revoke | Reap
"""One thing that happens in a story."""
INGEST_STEPS = (Start, Activity, End, PasswordReset, Revoke)
"""The steps the JSON ingest API can carry (`End` with an identity provider's reason only)."""
