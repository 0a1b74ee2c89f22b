"""RFC 9457 problem details: every 4xx and 5xx the API answers is `application/problem+json`.

Domain errors (`LedgerError`) map by `DOMAIN_PROBLEMS` (the domain knows no HTTP); FastAPI's
validation errors, unknown routes and wrong methods are rewritten; a database outage is a
503 naming the cause (`Retry-After` set), a full disk under the database a 507 (RFC 4918
§11.5), never a traceback. Tests: tests/api/test_errors.py, tests/faults/.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from ledger.aggregates import errors as domain
from ledger.aggregates.errors import LedgerError
from ledger.api.responses import OrjsonResponse
from ledger.persistence.gate import DISK_FULL, UNREACHABLE, DatabaseUnavailable, is_disk_full
from ledger.projections.pages import InvalidCursor

PROBLEM_TYPE = "application/problem+json"
TYPE_PREFIX = "tag:session-ledger,2026:problem:"
log = logging.getLogger("ledger.api")
RETRY_AFTER_S = 2
"""What an outage answer asks clients to wait (`Retry-After`): the database is probed every
quarter of a second, and the service serves within about a second of its return."""

OUTAGES: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
    sqlite3.OperationalError,
)


class Problem(BaseModel):
    """An RFC 9457 problem; `errors` lists the fields refused by validation."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ApiProblem(Exception):
    """An HTTP-level problem raised by the API itself (auth, limits, readiness)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A problem+json response."""
    body: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extra or {})
    return OrjsonResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


DOMAIN_PROBLEMS: dict[type[LedgerError], tuple[int, str, str]] = {
    InvalidCursor: (422, "invalid-cursor", "Invalid cursor"),
    domain.FutureTimestamp: (422, "future-time", "Time in the future"),
    domain.InvalidInput: (422, "invalid-input", "Invalid input"),
    domain.SessionNotFound: (404, "session-not-found", "Session not found"),
    domain.SessionEnded: (409, "session-ended", "Session has ended"),
    domain.SessionConflict: (409, "session-conflict", "Session exists with other data"),
    domain.ConcurrencyConflict: (409, "concurrent-update", "Concurrent update"),
    LedgerError: (400, "bad-request", "Bad request"),
}
"""Each domain error as HTTP sees it: status, problem type slug, title (nearest class wins)."""


def domain_problem(exc: LedgerError) -> tuple[int, str, str]:
    """The status, slug and title of a domain error (its nearest mapped class)."""
    for cls in type(exc).__mro__:
        if cls in DOMAIN_PROBLEMS:
            return DOMAIN_PROBLEMS[cls]
    return DOMAIN_PROBLEMS[LedgerError]


def _ledger_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LedgerError)
    status, slug, title = domain_problem(exc)
    return problem_response(status, slug, title, exc.detail, instance=request.url.path)


def _api_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiProblem)
    return problem_response(
        exc.status,
        exc.slug,
        exc.title,
        exc.detail,
        instance=request.url.path,
        headers=exc.headers,
        extra=exc.extra,
    )


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "Request body too large"),
}


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if exc.detail and exc.detail != title else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        detail = f"method {request.method} is not allowed here"
        headers["Allow"] = ", ".join(allowed_methods(request))
    return problem_response(
        exc.status_code, slug, title, detail, instance=request.url.path, headers=headers
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")}
        for e in exc.errors()
    ]
    loc: list[str] = errors[0]["loc"] if errors else []
    msg = str(errors[0]["msg"]) if errors else "invalid request"
    where = ".".join(loc[1:] or loc)
    return problem_response(
        422,
        "invalid-input",
        "Invalid input",
        f"{where}: {msg}" if where else msg,
        instance=request.url.path,
        extra={"errors": errors},
    )


def outage_problem(exc: Exception) -> tuple[int, str, str, str]:
    """Status, slug, title and detail of a database outage: away (503) or disk full (507)."""
    if is_disk_full(exc):
        log.warning("database disk full: %s: %s", type(exc).__name__, exc)
        # RFC 4918 §11.5: unable to store the representation needed to complete the request
        return 507, "insufficient-storage", "Insufficient storage", f"{DISK_FULL}; retry later"
    if isinstance(exc, PoolTimeout):  # every connection busy: overloaded, or the database away
        log.warning("no database connection free in time: %s", exc)
        detail = (
            "no database connection was free in time (busy, or the database is away); retry later"
        )
        return 503, "unavailable", "Service unavailable", detail
    log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
    return 503, "unavailable", "Service unavailable", f"{UNREACHABLE}; retry later"


def _outage(request: Request, exc: Exception) -> Response:
    status, slug, title, detail = outage_problem(exc)
    return problem_response(
        status,
        slug,
        title,
        detail,
        instance=request.url.path,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _internal(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        500,
        "internal-error",
        "Internal server error",
        "the ledger failed to answer; the error was logged",
        instance=request.url.path,
    )


def keys_unavailable(error: Exception, *, retry_after: int) -> ApiProblem:
    """503 while the IdP's keys cannot be fetched; the upstream error goes to the log only."""
    log.debug("signing keys unavailable: %s", error)  # each failed fetch is logged as it fails
    return ApiProblem(
        503,
        "unavailable",
        "Service unavailable",
        "signing keys unavailable; retry later",
        headers={"Retry-After": str(retry_after)},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error as problem+json."""
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(ApiProblem, _api_problem)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for outage in OUTAGES:
        app.add_exception_handler(outage, _outage)
    app.add_exception_handler(Exception, _internal)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an operation may answer."""
    described = {
        400: "Malformed request (e.g. a body that is not UTF-8 JSON)",
        401: "Missing or invalid bearer token",
        403: "The token lacks the scope",
        404: "No such session (or not one the caller may see)",
        409: "Conflict with the recorded state",
        413: "Request body too large",
        422: "Invalid input",
        503: "Database unavailable",
        507: "The database's disk is full",
    }
    return {s: {"model": Problem, "description": described[s]} for s in statuses}


async def single_valued_query(request: Request) -> None:
    """Refuse a repeated query parameter: every parameter of the API takes one value.

    `async` without I/O, so FastAPI runs it inline (a plain `def` costs a thread hop).
    """
    keys = [key for key, _ in request.query_params.multi_items()]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise ApiProblem(
            422, "invalid-input", "Invalid input", f"repeated query parameter {repeated[0]!r}"
        )


def problem_json_bytes(status: int, slug: str, title: str, detail: str) -> bytes:
    """A problem body as bytes (for the raw ASGI middleware)."""
    return orjson.dumps(
        {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": detail}
    )
