"""WSO2 Identity Server / Asgardeo Session Management API (v1), served by the ledger.

Every operation of WSO2's session.yaml under `/t/{tenant_domain}/api/users/v1`, with its
shapes (times as strings of epoch milliseconds, `applications` with `id`, `subject`,
`appName`, `appId`, the search's `previous`/`next` links) and status codes, and WSO2's error
body (`ledger.api.wso2_errors`). Thin: reads come from the `active_sessions` view, ends go
through `SessionLedger` exactly as v1's do (reasons `user_terminated` / `admin_terminated`,
the caller as actor, answered once the views show it). The path's tenant domain is the
ledger tenant and must be the token's (else 401). WSO2's scope names are honoured as well
as the ledger's: `internal_login` = `sessions:me`, `internal_session_view` =
`sessions:read`, `internal_session_delete` = `sessions:terminate`. As in WSO2's own
implementation, ending a session that does not exist (or is another user's) answers 204
and records nothing, and `limit`/`offset`/`filter`/`sort` on a user's list answer 501.
Tests: tests/api/test_wso2_sessions.py, tests/api/test_wso2_schemathesis.py.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from starlette.responses import Response

from ledger import validation as check
from ledger.aggregates.errors import SessionNotFound
from ledger.aggregates.rules import TerminationReason
from ledger.api.auth import ME, READ, REALM, TERMINATE, CurrentPrincipal, Principal, unauthorized
from ledger.api.commands import end_all, end_session
from ledger.api.context import ApiContext, ContextDep
from ledger.api.problems import ApiProblem, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import IdPath
from ledger.api.scim_filter import FilterError, parse
from ledger.api.wso2_errors import Wso2Failure, Wso2Route, fix_openapi, wso2_responses
from ledger.api.wso2_schemas import Wso2SearchResponse, Wso2Session, Wso2Sessions, session_json
from ledger.api.wso2_search import effective_limit, links, search

PREFIX = "/t/{tenant_domain}/api/users/v1"
SCOPE_NAMES = {  # WSO2's scope -> the ledger's
    "internal_login": ME,
    "internal_session_view": READ,
    "internal_session_delete": TERMINATE,
}
router = APIRouter(
    prefix=PREFIX,
    tags=["wso2"],
    route_class=Wso2Route,
    dependencies=[Depends(single_valued_query)],
)
TenantPath = Annotated[
    str, Path(min_length=1, max_length=255, description="The tenant domain: the ledger tenant.")
]


def caller(wso2_scope: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, whose token is of the path's tenant and has the scope."""
    scopes = {wso2_scope, SCOPE_NAMES[wso2_scope]}

    async def dependency(tenant_domain: TenantPath, principal: CurrentPrincipal) -> Principal:
        if tenant_domain != principal.tenant:
            raise unauthorized("the token is not for the tenant domain of the path")
        if principal.scopes.isdisjoint(scopes):
            raise ApiProblem(
                403,
                "insufficient-scope",
                "Forbidden",
                f"the token lacks the scope {wso2_scope} (or {SCOPE_NAMES[wso2_scope]})",
                headers={
                    "WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{wso2_scope}"'
                },
            )
        return principal

    return dependency


Me = Annotated[Principal, Depends(caller("internal_login"))]
Viewer = Annotated[Principal, Depends(caller("internal_session_view"))]
Deleter = Annotated[Principal, Depends(caller("internal_session_delete"))]


LIST_PARAMETERS = frozenset({"limit", "offset", "filter", "sort"})


async def not_implemented(
    request: Request,
    limit: Annotated[int | None, Query(description="Not supported yet (501).")] = None,
    offset: Annotated[int | None, Query(description="Not supported yet (501).")] = None,
    filter: Annotated[str | None, Query(description="Not supported yet (501).")] = None,
    sort: Annotated[str | None, Query(description="Not supported yet (501).")] = None,
) -> None:
    """WSO2 answers 501 to these parameters of a user's list (USM-00003, -4, -5); a parameter
    the operation does not declare is a 400."""
    unknown = sorted(set(request.query_params) - LIST_PARAMETERS)
    if unknown:
        raise Wso2Failure(
            400, code="USM-00001", message="Invalid request.",
            description=f"Unknown query parameter {unknown[0]!r}.",
        )  # fmt: skip
    if limit is not None or offset is not None:
        raise Wso2Failure(
            501, code="USM-00003", message="Pagination not supported.",
            description="Pagination capabilities are not supported in this version of the API.",
        )  # fmt: skip
    if filter is not None:
        raise Wso2Failure(
            501, code="USM-00004", message="Filtering not supported.",
            description="Filtering capability is not supported in this version of the API.",
        )  # fmt: skip
    if sort is not None:
        raise Wso2Failure(
            501, code="USM-00005", message="Sorting not supported.",
            description="Sorting capability is not supported in this version of the API.",
        )  # fmt: skip


Unsupported = Annotated[None, Depends(not_implemented)]  # after the caller: 401/403 come first


def _user_sessions(context: ApiContext, *, tenant: str, user_id: str) -> Response:
    now = context.now()
    records = context.ready_system().active.user_sessions(tenant, user_id, now=now)
    return OrjsonResponse({"userId": user_id, "sessions": [session_json(r) for r in records]})


def _end_one(
    context: ApiContext, caller: Principal, *, user_id: str, session_id: str, reason: str
) -> None:
    """End one session of `user_id` as v1 does; a missing one records nothing (WSO2: 204)."""
    with contextlib.suppress(SessionNotFound):
        end_session(
            context,
            caller.tenant,
            user_id=user_id,
            session_id=session_id,
            reason=reason,
            actor=caller.sub,
        )


def _end_all(context: ApiContext, caller: Principal, *, user_id: str, reason: str) -> None:
    end_all(context, caller.tenant, user_id=user_id, reason=reason, actor=caller.sub)


ME_LIST = wso2_responses(400, 401, 403, 500, 501, 503)
DELETES = wso2_responses(400, 401, 403, 500, 503)
NO_CONTENT: dict[str, Any] = {"status_code": 204, "response_class": Response}


@router.get("/me/sessions", response_model=Wso2Sessions, responses=ME_LIST,
            summary="Active sessions of the authenticated user")  # fmt: skip
def get_my_sessions(me: Me, _: Unsupported, context: ContextDep) -> Response:
    """My active sessions, newest first (scope `internal_login` or `sessions:me`)."""
    return _user_sessions(context, tenant=me.tenant, user_id=me.sub)


@router.delete("/me/sessions", **NO_CONTENT, responses=DELETES,
               summary="Terminate all the active sessions of the authenticated user")  # fmt: skip
def delete_my_sessions(me: Me, context: ContextDep) -> Response:
    """End all my sessions (reason `user_terminated`) -> 204."""
    _end_all(context, me, user_id=me.sub, reason=TerminationReason.USER_TERMINATED)
    return Response(status_code=204)


@router.delete("/me/sessions/{session_id}", **NO_CONTENT, responses=DELETES,
               summary="Terminate a given session of the authenticated user")  # fmt: skip
def delete_my_session(session_id: IdPath, me: Me, context: ContextDep) -> Response:
    """End one of my sessions (reason `user_terminated`) -> 204."""
    _end_one(
        context, me, user_id=me.sub, session_id=session_id,
        reason=TerminationReason.USER_TERMINATED,
    )  # fmt: skip
    return Response(status_code=204)


@router.get("/{user_id}/sessions", response_model=Wso2Sessions, responses=ME_LIST,
            summary="Active sessions of a given user")  # fmt: skip
def get_user_sessions(
    user_id: IdPath, viewer: Viewer, _: Unsupported, context: ContextDep
) -> Response:
    """The user's active sessions, newest first (`internal_session_view` or `sessions:read`)."""
    user_id = check.external_id(user_id, what="user_id")
    return _user_sessions(context, tenant=viewer.tenant, user_id=user_id)


@router.delete("/{user_id}/sessions", **NO_CONTENT, responses=DELETES,
               summary="Terminate all sessions of a given user")  # fmt: skip
def delete_user_sessions(user_id: IdPath, deleter: Deleter, context: ContextDep) -> Response:
    """End all the user's sessions (reason `admin_terminated`) -> 204."""
    user_id = check.external_id(user_id, what="user_id")
    _end_all(context, deleter, user_id=user_id, reason=TerminationReason.ADMIN_TERMINATED)
    return Response(status_code=204)


@router.get("/{user_id}/sessions/{session_id}", response_model=Wso2Session,
            responses=wso2_responses(400, 401, 403, 404, 500, 503),
            summary="A given active session of a given user")  # fmt: skip
def get_user_session(
    user_id: IdPath, session_id: IdPath, viewer: Viewer, context: ContextDep
) -> Response:
    """One active session of the user, or 404 (also for another user's)."""
    user_id = check.external_id(user_id, what="user_id")
    record = context.ready_system().active.get(viewer.tenant, session_id, now=context.now())
    if record is None or record.user_id != user_id:
        raise SessionNotFound("Session cannot be found for the given session ID.")
    return OrjsonResponse(session_json(record))


@router.delete("/{user_id}/sessions/{session_id}", **NO_CONTENT, responses=DELETES,
               summary="Terminate a given session of a given user")  # fmt: skip
def delete_user_session(
    user_id: IdPath, session_id: IdPath, deleter: Deleter, context: ContextDep
) -> Response:
    """End the session (reason `admin_terminated`) -> 204."""
    user_id = check.external_id(user_id, what="user_id")
    _end_one(
        context, deleter, user_id=user_id, session_id=session_id,
        reason=TerminationReason.ADMIN_TERMINATED,
    )  # fmt: skip
    return Response(status_code=204)


FILTER_HELP = (
    "`attribute operator value` joined by `and`, case-insensitive: loginId, sessionId, "
    "appName, userAgent (eq, sw, ew, co), ipAddress (eq), loginTime, lastAccessTime (le, ge; "
    'epoch ms). Values with spaces in double quotes: `userAgent co "Mac OS"`.'
)


@router.get("/sessions", response_model=Wso2SearchResponse,
            responses=wso2_responses(400, 401, 403, 500, 503),
            summary="Search the tenant's active sessions")  # fmt: skip
def search_sessions(
    *,
    viewer: Viewer,
    context: ContextDep,
    filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    limit: Annotated[int | None, Query(description="Page size (default 20, at most 500).")] = None,
    since: Annotated[
        int | None, Query(description="Logged in after (epoch ms): previous page.")
    ] = None,
    until: Annotated[
        int | None, Query(description="Logged in before (epoch ms): next page.")
    ] = None,
) -> Response:
    """Active sessions of the tenant, newest login first, filtered, paged by login time."""
    try:
        parsed = parse(filter) if filter is not None else None
    except FilterError as e:
        raise Wso2Failure(
            400, code="USM-10011", message="Invalid data", description=f"invalid filter: {e}"
        ) from None
    size = effective_limit(limit)
    page = search(
        context.ready_system().active, viewer.tenant, now=context.now(), f=parsed,
        limit=size, since=since, until=until,
    )  # fmt: skip
    previous, following = links(page, limit=size, filter_text=filter, since=since, until=until)
    body: dict[str, Any] = {"Resources": [session_json(r) for r in page.sessions]}
    if previous is not None:
        body["previous"] = previous
    if following is not None:
        body["next"] = following
    return OrjsonResponse(body)


def install(app: FastAPI) -> None:
    """Serve these routes on `app`, their errors documented as WSO2's `application/json`."""
    app.include_router(router)
    documented = app.openapi
    app.openapi = lambda: fix_openapi(documented(), "/t/")  # type: ignore[method-assign]
