"""The bodies of the WSO2-compatible session API (session.yaml `definitions`), and the
mapping of a ledger session to WSO2's `Session`.

Guarantees: times are strings of epoch milliseconds (rounded down); every application has
`id`, `subject` (the user id), `appName` (its name, or its id when the IdP gave none) and
`appId`; `userAgent` and `ip` are left out when unknown, never null.
Tests: tests/api/test_wso2_sessions.py.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ledger.api.scim_filter import app_name
from ledger.api.wso2_search import login_ms
from ledger.projections.deltas import to_us
from ledger.records import SessionRecord


class Wso2Application(BaseModel):
    """An application of the session (session.yaml `Application`)."""

    id: str
    subject: str
    appName: str  # noqa: N815 (WSO2's field names)
    appId: str  # noqa: N815


class Wso2Session(BaseModel):
    """A session (session.yaml `Session`); times are strings of epoch milliseconds."""

    id: str
    userId: str  # noqa: N815 (WSO2's field names)
    applications: list[Wso2Application]
    userAgent: str | None = None  # noqa: N815
    ip: str | None = None
    loginTime: str  # noqa: N815
    lastAccessTime: str  # noqa: N815


class Wso2Sessions(BaseModel):
    """A user's sessions (session.yaml `Sessions`)."""

    userId: str  # noqa: N815 (WSO2's field name)
    sessions: list[Wso2Session]


class Wso2SearchResponse(BaseModel):
    """A page of the search (session.yaml `SearchResponse`), newest first."""

    previous: str | None = None
    next: str | None = None
    Resources: list[Wso2Session]


def session_json(record: SessionRecord) -> dict[str, Any]:
    """A session in WSO2's shape (`userAgent`, `ip` left out when unknown)."""
    out: dict[str, Any] = {
        "id": record.id,
        "userId": record.user_id,
        "applications": [
            {"id": a["id"], "subject": record.user_id, "appName": app_name(a), "appId": a["id"]}
            for a in record.applications
        ],
        "loginTime": str(login_ms(record)),
        "lastAccessTime": str(to_us(record.last_active_at) // 1000),
    }
    if record.user_agent is not None:
        out["userAgent"] = record.user_agent
    if record.ip is not None:
        out["ip"] = record.ip
    return out
