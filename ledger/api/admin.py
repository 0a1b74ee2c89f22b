"""The console's API: a user's sessions, terminate one or all, the tenant's list, history.

Scopes: `sessions:read` to list, `sessions:terminate` to end, `sessions:audit` for history.
Everything stays inside the token's tenant; a session of another user (or tenant) answers
404 like a missing one. Tests: tests/api/test_admin.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from ledger import validation as check
from ledger.aggregates.rules import TerminationReason
from ledger.api.auth import Auditor, Reader, Terminator
from ledger.api.commands import end_all, end_session
from ledger.api.context import ContextDep
from ledger.api.filters import Filters
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import (
    HistoryPage,
    IdPath,
    SessionList,
    SessionPage,
    Terminated,
    Time,
    UserList,
    session_json,
)
from ledger.projections.pages import MAX_LIMIT, Page
from ledger.validation import ID_PATTERN

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(single_valued_query)])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="`next_cursor` of the previous page.")
]
READS = error_responses(401, 403, 422, 503)
Order = Literal["newest", "oldest"]


@router.get(
    "/users/{user_id}/sessions",
    response_model=SessionList,
    responses=READS,
    summary="A user's active sessions",
)
async def list_user_sessions(user_id: IdPath, caller: Reader, context: ContextDep) -> Response:
    """The user's active sessions, newest first (the query awaited: no worker thread)."""
    now = context.now()
    active = context.ready_system().active
    records = await active.user_sessions_async(caller.tenant, user_id, now=now)
    return OrjsonResponse({"sessions": [session_json(r, now=now) for r in records]})


@router.delete(
    "/users/{user_id}/sessions/{session_id}",
    status_code=204,
    response_class=Response,
    responses=error_responses(401, 403, 404, 409, 422, 503),
    summary="Terminate one of a user's sessions",
)
def terminate_user_session(
    user_id: IdPath, session_id: IdPath, caller: Terminator, context: ContextDep
) -> Response:
    """End the session (reason `admin_terminated`) -> 204; again on an ended one -> 204."""
    end_session(
        context,
        caller.tenant,
        user_id=user_id,
        session_id=session_id,
        reason=TerminationReason.ADMIN_TERMINATED,
        actor=caller.sub,
    )
    return Response(status_code=204)


@router.delete(
    "/users/{user_id}/sessions",
    response_model=Terminated,
    responses=error_responses(401, 403, 409, 422, 503),
    summary="Terminate all of a user's sessions",
)
def terminate_user_sessions(user_id: IdPath, caller: Terminator, context: ContextDep) -> Response:
    """End every open session of the user (reason `admin_terminated`)."""
    outcome = end_all(
        context,
        caller.tenant,
        user_id=user_id,
        reason=TerminationReason.ADMIN_TERMINATED,
        actor=caller.sub,
    )
    return OrjsonResponse({"terminated": outcome.terminated})


@router.get(
    "/sessions",
    response_model=SessionPage,
    responses=READS,
    summary="The tenant's active sessions",
)
def list_sessions(
    *,
    caller: Reader,
    context: ContextDep,
    filters: Filters,
    order: Annotated[Order, Query(description="By sign-in time.")] = "newest",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """All active sessions of the tenant, newest (or oldest) first, filtered, cursor-paginated."""
    now = context.now()
    page = context.ready_system().active.list_sessions(
        caller.tenant,
        now=now,
        filters=filters,
        limit=limit,
        cursor=cursor,
        oldest_first=order == "oldest",
    )
    return page_response(page, now=now)


@router.get(
    "/users/{user_id}/sessions/history",
    response_model=HistoryPage,
    responses=READS,
    summary="A user's sessions, ended and open, with reasons",
)
def user_history(
    *,
    user_id: IdPath,
    caller: Auditor,
    context: ContextDep,
    since: Annotated[Time | None, Query(description="Sessions open at or after.")] = None,
    until: Annotated[Time | None, Query(description="Sessions started before.")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Response:
    """The user's sessions overlapping [since, until), newest start first, with end reasons."""
    now = context.now()
    page = context.ready_system().history.user_history(
        caller.tenant, user_id, since=since, until=until, limit=limit, cursor=cursor
    )
    return page_response(page, now=now, history=True)


@router.get(
    "/users",
    response_model=UserList,
    responses=READS,
    summary="Users with active sessions (for the console)",
)
def list_users(
    caller: Reader,
    context: ContextDep,
    prefix: Annotated[
        str | None, Query(max_length=255, pattern=ID_PATTERN, description="User id prefix.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> Response:
    """The tenant's users with open sessions and how many, by user id."""
    if prefix:
        prefix = check.external_id(prefix, what="prefix")
    counts = context.ready_system().active.count_by_user(
        caller.tenant, now=context.now(), prefix=prefix or None, limit=limit
    )
    return OrjsonResponse({"users": [{"user_id": u, "active_sessions": n} for u, n in counts]})


def page_response(page: Page, *, now: datetime, history: bool = False) -> Response:
    """A page of sessions as the API answers it: `{"sessions": [...], "next_cursor"}`."""
    sessions = [session_json(r, now=now, history=history) for r in page.sessions]
    return OrjsonResponse({"sessions": sessions, "next_cursor": page.next_cursor})
