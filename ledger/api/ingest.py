"""The identity provider's API (`sessions:ingest`): start, activity, logout, reset, revoke.

Thin routers over the ingest adapter (`ledger.inbound.ingest` maps each body to a ledger
command). A repeated start with the same data answers 200 (201 the first time); other data for an
existing id is a 409. The token's `sub` (the IdP's client) is recorded as the actor of
terminations it reports. Tests: tests/api/test_ingest.py.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from starlette.responses import Response

from ledger.api.auth import Ingestor
from ledger.api.commands import run_command
from ledger.api.context import ContextDep
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import (
    ActivityBody,
    ActivityResult,
    IdPath,
    PasswordResetBody,
    RevokeBody,
    SessionOut,
    StartBody,
    TerminateBody,
    Terminated,
    TerminateResult,
    session_json,
)
from ledger.inbound import ingest

router = APIRouter(prefix="/v1", tags=["ingest"], dependencies=[Depends(single_valued_query)])
WRITES = error_responses(400, 401, 403, 404, 409, 413, 422, 503)


def _fields(body: Any) -> dict[str, Any]:
    fields: dict[str, Any] = body.model_dump(exclude_none=True)
    return fields


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionOut,
    responses={200: {"model": SessionOut, "description": "The same start, repeated"}, **WRITES},
    summary="Record a session start",
)
def start_session(body: StartBody, caller: Ingestor, context: ContextDep) -> Response:
    """Record a session started at the IdP: 201, or 200 when the same start is repeated."""
    outcome = run_command(
        context,
        "start_session",
        lambda: ingest.start(_fields(body)).run(context.ready_system().ledger, caller.tenant),
    )
    assert outcome.session is not None
    return OrjsonResponse(
        session_json(outcome.session, now=context.now()),
        status_code=201 if outcome.created else 200,
    )


@router.post(
    "/sessions/{session_id}/activity",
    status_code=202,
    response_model=ActivityResult,
    responses=WRITES,
    summary="Record activity on a session",
)
def record_activity(
    session_id: IdPath,
    caller: Ingestor,
    context: ContextDep,
    body: Annotated[ActivityBody | None, Body()] = None,
) -> Response:
    """Activity (and SSO into `application`) -> 202; 409 once the session has ended."""
    body = body or ActivityBody()
    outcome = run_command(
        context,
        "record_activity",
        lambda: ingest.activity(session_id, _fields(body)).run(
            context.ready_system().ledger, caller.tenant
        ),
    )
    return OrjsonResponse({"recorded": outcome.recorded, "joined": outcome.joined}, status_code=202)


@router.post(
    "/sessions/{session_id}/terminate",
    response_model=TerminateResult,
    responses=WRITES,
    summary="Record a logout or a closed browser",
)
def terminate_session(
    session_id: IdPath, body: TerminateBody, caller: Ingestor, context: ContextDep
) -> Response:
    """End the session (`logout` or `browser_closed`); again on an ended one changes nothing."""
    outcome = run_command(
        context,
        "logout",
        lambda: ingest.terminate(session_id, _fields(body), actor=caller.sub).run(
            context.ready_system().ledger, caller.tenant
        ),
    )
    return OrjsonResponse({"terminated": outcome.terminated, "reason": outcome.reason})


@router.post(
    "/users/{user_id}/password-reset",
    response_model=Terminated,
    responses=WRITES,
    summary="Record a password reset",
)
def reset_password(
    user_id: IdPath,
    caller: Ingestor,
    context: ContextDep,
    body: Annotated[PasswordResetBody | None, Body()] = None,
) -> Response:
    """Record the reset and end every session of the user (but `keep_session_id`)."""
    body = body or PasswordResetBody()
    outcome = run_command(
        context,
        "reset_password",
        lambda: ingest.password_reset(user_id, _fields(body), actor=caller.sub).run(
            context.ready_system().ledger, caller.tenant
        ),
    )
    return OrjsonResponse({"terminated": outcome.terminated})


@router.post(
    "/users/{user_id}/revoke",
    response_model=Terminated,
    responses=WRITES,
    summary="Record that an account was locked, disabled or deleted",
)
def revoke(user_id: IdPath, body: RevokeBody, caller: Ingestor, context: ContextDep) -> Response:
    """Record the revocation and end every session of the user."""
    outcome = run_command(
        context,
        "revoke",
        lambda: ingest.revoke(user_id, _fields(body), actor=caller.sub).run(
            context.ready_system().ledger, caller.tenant
        ),
    )
    return OrjsonResponse({"terminated": outcome.terminated})
