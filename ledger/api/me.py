"""Self-service ("my account"): my active sessions, terminate one, terminate all.

Every query and command is scoped to the token's `sub` and tenant: a session of another
user answers 404 exactly like a missing one. Terminating one of my sessions that has
already ended answers 204 again (DELETE is idempotent; nothing new is recorded).
Tests: tests/api/test_me.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from ledger.aggregates.rules import TerminationReason
from ledger.api.auth import MeCaller
from ledger.api.commands import end_all, end_session
from ledger.api.context import ContextDep
from ledger.api.problems import ApiProblem, error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import IdPath, MySessionList, Terminated, session_json

router = APIRouter(prefix="/v1/me", tags=["me"], dependencies=[Depends(single_valued_query)])


@router.get(
    "/sessions",
    response_model=MySessionList,
    responses=error_responses(401, 403, 422, 503),
    summary="My active sessions",
)
async def list_my_sessions(caller: MeCaller, context: ContextDep) -> Response:
    """My active sessions, newest first; `current` marks the one of my token's `sid`."""
    system, now = context.ready_system(), context.now()
    records = await system.active.user_sessions_async(caller.tenant, caller.sub, now=now)
    sessions = [
        {**session_json(r, now=now), "current": caller.sid is not None and r.id == caller.sid}
        for r in records
    ]
    return OrjsonResponse({"sessions": sessions})


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Terminate one of my sessions",
)
def terminate_my_session(session_id: IdPath, caller: MeCaller, context: ContextDep) -> Response:
    """End one of my sessions (reason `user_terminated`) -> 204."""
    end_session(
        context,
        caller.tenant,
        user_id=caller.sub,
        session_id=session_id,
        reason=TerminationReason.USER_TERMINATED,
        actor=caller.sub,
    )
    return Response(status_code=204)


@router.delete(
    "/sessions",
    response_model=Terminated,
    responses=error_responses(400, 401, 403, 409, 422, 503),
    summary="Terminate all my sessions",
)
def terminate_my_sessions(
    caller: MeCaller,
    context: ContextDep,
    keep_current: Annotated[
        bool, Query(description="Keep the session of my token's `sid` open.")
    ] = False,
) -> Response:
    """End all my sessions (but the current one with `keep_current=true`)."""
    if keep_current and caller.sid is None:
        raise ApiProblem(
            400,
            "no-current-session",
            "No current session",
            "keep_current=true needs a token with a sid claim",
        )
    outcome = end_all(
        context,
        caller.tenant,
        user_id=caller.sub,
        reason=TerminationReason.USER_TERMINATED,
        actor=caller.sub,
        keep=caller.sid if keep_current else None,
    )
    return OrjsonResponse({"terminated": outcome.terminated})
