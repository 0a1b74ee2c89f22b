"""`GET /v1/sessions/{session_id}/status`: is this session still good? (scope `sessions:check`).

For apps and gateways that ask per request instead of listening for terminations. One
primary-key read of the `session_history` view, no aggregate load. Guarantees: a session of
another tenant answers 404 exactly like a missing one; a session past its `expires_at` whose
expiry the reaper has not recorded yet already answers `active: false`, status `expired`,
`ended_at` = its `expires_at` and the reason the reaper will record (`idle_timeout` or
`max_lifetime`), so the answer never depends on when the reaper last ran.
Tests: tests/api/test_status.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.responses import Response

from ledger.aggregates.errors import SessionNotFound
from ledger.aggregates.rules import expiry_reason
from ledger.api.auth import Principal, require_scope
from ledger.api.context import ContextDep
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import IdPath, Status
from ledger.records import SessionRecord

CHECK = "sessions:check"
Checker = Annotated[Principal, Depends(require_scope(CHECK))]
router = APIRouter(prefix="/v1", tags=["check"], dependencies=[Depends(single_valued_query)])


class SessionStatus(BaseModel):
    """Whether a session is active now, and if not, when and why it ended."""

    active: bool
    status: Status
    expires_at: datetime
    ended_at: datetime | None
    reason: str | None


def status_json(record: SessionRecord, *, now: datetime) -> dict[str, Any]:
    """The status of `record` at `now` (an unrecorded expiry counts as the end)."""
    status = record.status_at(now)
    ended_at, reason = record.ended_at, record.termination_reason
    if status == "expired":
        ended_at = record.expires_at
        reason = expiry_reason(
            started_at=record.started_at,
            last_active_at=record.last_active_at,
            idle_timeout_s=record.idle_timeout_s,
            max_lifetime_s=record.max_lifetime_s,
        )
    return {
        "active": status == "active",
        "status": status,
        "expires_at": record.expires_at,
        "ended_at": ended_at,
        "reason": reason,
    }


@router.get(
    "/sessions/{session_id}/status",
    response_model=SessionStatus,
    responses=error_responses(401, 403, 404, 422, 503),
    summary="Is a session active? (cheap enough to call per request)",
)
async def session_status(session_id: IdPath, caller: Checker, context: ContextDep) -> Response:
    """`{"active", "status", "expires_at", "ended_at", "reason"}` of one session of the tenant."""
    system = context.ready_system()
    record = await system.history.get_async(caller.tenant, session_id)
    if record is None:
        raise SessionNotFound(f"no session {session_id!r}")
    return OrjsonResponse(status_json(record, now=context.now()))
