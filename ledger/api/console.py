"""The console overview's reads of the tenant's open sessions: how many, and all as CSV.

`GET /v1/sessions/summary` counts the open sessions and the users who have them;
`GET /v1/sessions/export` streams every open session the filters select as CSV (RFC 4180),
newest first, read page by page (memory does not grow with the tenant). Both take the
filters of `GET /v1/sessions` (`ledger/api/filters.py`) and the scope `sessions:read`.
Tests: tests/api/test_console_api.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.responses import Response, StreamingResponse

from ledger.api.auth import Reader
from ledger.api.context import ContextDep
from ledger.api.filters import Filters
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.projections.active_sessions import ActiveSessionsView
from ledger.projections.pages import MAX_LIMIT
from ledger.projections.session_search import SessionFilter
from ledger.records import SessionRecord

router = APIRouter(prefix="/v1", tags=["admin"], dependencies=[Depends(single_valued_query)])
CSV_COLUMNS = [
    "session_id",
    "user_id",
    "started_at",
    "last_active_at",
    "expires_at",
    "ip",
    "user_agent",
    "applications",
    "auth_methods",
]


class Summary(BaseModel):
    """How many sessions are open, and how many users have one."""

    open_sessions: int
    users: int


@router.get(
    "/sessions/summary",
    response_model=Summary,
    responses=error_responses(401, 403, 422, 503),
    summary="How many sessions are open, and how many users have them",
)
def summary(caller: Reader, context: ContextDep, filters: Filters) -> Response:
    """The tenant's open sessions and users with open sessions (that the filters select)."""
    active = context.ready_system().active
    sessions, users = active.count_sessions(caller.tenant, now=context.now(), filters=filters)
    return OrjsonResponse({"open_sessions": sessions, "users": users})


@router.get(
    "/sessions/export",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV, one open session per row"},
        **error_responses(401, 403, 422, 503),
    },
    summary="The tenant's open sessions as CSV",
)
def export(caller: Reader, context: ContextDep, filters: Filters) -> Response:
    """Every open session the filters select, newest first, as CSV with a header row."""
    active, now = context.ready_system().active, context.now()
    rows = csv_rows(active, caller.tenant, now=now, filters=filters)
    name = f"sessions-{now.strftime('%Y%m%dT%H%M%SZ')}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


def csv_rows(
    active: ActiveSessionsView, tenant: str, *, now: datetime, filters: SessionFilter
) -> Iterator[str]:
    """The CSV text, a page of sessions at a time (header first)."""
    yield _line(CSV_COLUMNS)
    cursor: str | None = None
    while True:
        page = active.list_sessions(
            tenant, now=now, filters=filters, limit=MAX_LIMIT, cursor=cursor
        )
        yield "".join(_line(_fields(r)) for r in page.sessions)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _fields(r: SessionRecord) -> list[str]:
    return [
        r.id,
        r.user_id,
        _time(r.started_at),
        _time(r.last_active_at),
        _time(r.expires_at),
        r.ip or "",
        r.user_agent or "",
        " ".join(a["id"] for a in r.applications),
        " ".join(r.auth_methods),
    ]


def _time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line(fields: list[str]) -> str:
    out = io.StringIO()
    # A cell starting with = + - @ is prefixed with ' so spreadsheets do not run it (OWASP).
    csv.writer(out, lineterminator="\r\n").writerow(
        ["'" + f if f[:1] in ("=", "+", "-", "@") else f for f in fields]
    )
    return out.getvalue()
