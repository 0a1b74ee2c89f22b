"""Request and response bodies of the v1 API, as pydantic models (they make the OpenAPI).

Requests refuse unknown fields (422). Ids are 1-255 characters; the ledger's own checks
(`ledger.validation`) refuse the rest (control characters, bad IP addresses, future times).
Responses are built by `session_json` from the views' `SessionRecord`s.
Tests: tests/api/test_errors.py, tests/api/test_schemathesis.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from ledger.aggregates.rules import MAX_TIMEOUT_S, IdpReason, RevokeReason
from ledger.records import SessionRecord
from ledger.validation import (
    ID_PATTERN,
    MAX_AUTH_METHOD,
    MAX_AUTH_METHODS,
    MAX_NAME,
    MAX_USER_AGENT,
)

IP_SCHEMA: dict[str, Any] = {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
Id = Annotated[str, Field(min_length=1, max_length=255, pattern=ID_PATTERN)]
Ip = Annotated[
    str, Field(min_length=2, max_length=64, examples=["203.0.113.7"], json_schema_extra=IP_SCHEMA)
]
TEXT_PATTERN = r"^[^\x00]*$"  # a NUL is never text (and PostgreSQL cannot store it)
IdPath = Annotated[str, Path(min_length=1, max_length=255, pattern=ID_PATTERN)]
IdQuery = Annotated[str | None, Query(min_length=1, max_length=255, pattern=ID_PATTERN)]
IpQuery = Annotated[str | None, Query(min_length=2, max_length=64, json_schema_extra=IP_SCHEMA)]
Timeout = Annotated[int, Field(ge=1, le=MAX_TIMEOUT_S)]
Status = Literal["active", "ended", "expired"]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Only RFC 3339 text (pydantic alone would also take numbers as Unix times)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not RFC3339.match(value):
        raise ValueError("expected an RFC 3339 date-time with an offset, e.g. 2026-03-01T12:00:00Z")
    parsed = datetime.fromisoformat(value.upper())
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("date-time out of range") from None
    return parsed


Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Application(Body):
    """An application the session signed into."""

    id: Id
    name: Annotated[str, Field(max_length=MAX_NAME, pattern=TEXT_PATTERN)] | None = None


class StartBody(Body):
    """`POST /v1/sessions`: a session started at the IdP."""

    session_id: Id | None = None
    user_id: Id
    ip: Ip | None = None
    user_agent: Annotated[str, Field(max_length=MAX_USER_AGENT, pattern=TEXT_PATTERN)] | None = None
    application: Application | None = None
    auth_methods: (
        Annotated[
            list[
                Annotated[str, Field(min_length=1, max_length=MAX_AUTH_METHOD, pattern=ID_PATTERN)]
            ],
            Field(max_length=MAX_AUTH_METHODS),
        ]
        | None
    ) = None
    started_at: Time | None = None
    idle_timeout_s: Timeout | None = None
    max_lifetime_s: Timeout | None = None


class ActivityBody(Body):
    """`POST /v1/sessions/{id}/activity`: activity, maybe SSO into a further application."""

    at: Time | None = None
    ip: Ip | None = None
    application: Application | None = None


class TerminateBody(Body):
    """`POST /v1/sessions/{id}/terminate`: the IdP saw a logout or the browser close."""

    reason: Annotated[IdpReason, Field(strict=False)]
    at: Time | None = None


class PasswordResetBody(Body):
    """`POST /v1/users/{id}/password-reset`."""

    at: Time | None = None
    keep_session_id: Id | None = None


class RevokeBody(Body):
    """`POST /v1/users/{id}/revoke`: the account was locked, disabled or deleted."""

    reason: Annotated[RevokeReason, Field(strict=False)]
    at: Time | None = None


class AppOut(BaseModel):
    """An application in a response."""

    id: str
    name: str


class SessionOut(BaseModel):
    """A session as the API shows it."""

    id: str
    user_id: str
    tenant: str
    status: Status
    started_at: datetime
    last_active_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None
    applications: list[AppOut]
    auth_methods: list[str]


class MySessionOut(SessionOut):
    """A session under `/v1/me`: `current` marks the caller's own (the token's `sid`)."""

    current: bool


class HistorySessionOut(SessionOut):
    """A session in the history: how and by whom it ended (null while open)."""

    ended_at: datetime | None
    termination_reason: str | None
    terminated_by: str | None
    termination_cause: str | None


class SessionList(BaseModel):
    """A list of sessions."""

    sessions: list[SessionOut]


class MySessionList(BaseModel):
    """My sessions."""

    sessions: list[MySessionOut]


class SessionPage(BaseModel):
    """One page of sessions; `next_cursor` is null on the last page."""

    sessions: list[SessionOut]
    next_cursor: str | None


class HistoryPage(BaseModel):
    """One page of a user's history; `next_cursor` is null on the last page."""

    sessions: list[HistorySessionOut]
    next_cursor: str | None


class Terminated(BaseModel):
    """The ids of the sessions a bulk command terminated."""

    terminated: list[str]


class TerminateResult(BaseModel):
    """A termination reported by the IdP; `terminated` is false when it had already ended."""

    terminated: bool
    reason: str | None


class ActivityResult(BaseModel):
    """Activity acknowledged; `recorded` is false when within the granularity."""

    recorded: bool
    joined: bool


class UserCount(BaseModel):
    """A user with open sessions."""

    user_id: str
    active_sessions: int


class UserList(BaseModel):
    """Users of the tenant with open sessions."""

    users: list[UserCount]


def session_json(record: SessionRecord, *, now: datetime, history: bool = False) -> dict[str, Any]:
    """The response fields of one session."""
    out: dict[str, Any] = {
        "id": record.id,
        "user_id": record.user_id,
        "tenant": record.tenant,
        "status": record.status_at(now),
        "started_at": record.started_at,
        "last_active_at": record.last_active_at,
        "expires_at": record.expires_at,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "applications": [{"id": a["id"], "name": a["name"]} for a in record.applications],
        "auth_methods": list(record.auth_methods),
    }
    if history:
        out["ended_at"] = record.ended_at
        out["termination_reason"] = record.termination_reason
        out["terminated_by"] = record.terminated_by
        out["termination_cause"] = record.termination_cause
    return out
