"""WSO2's error body `{code, message, description, traceId}` for the WSO2-compatible routes.

Every error raised while one of those routes runs (authentication, scope, validation, the
ledger's own errors, a database outage, a bug) is answered as WSO2's `Error` object
(session.yaml `definitions/Error`) with `application/json`, never as problem+json and
never as a traceback; `WWW-Authenticate` and `Retry-After` headers are kept. Validation
errors are WSO2's 400 (not FastAPI's 422). Codes are WSO2's own where its session API
defines one (`USM-10011` invalid data, `USM-00003..5` not implemented), else `USM-` and the
HTTP status. `traceId` is fresh per error and logged with it.
Tests: tests/api/test_wso2_sessions.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ledger.aggregates.errors import LedgerError
from ledger.api.problems import (
    OUTAGES,
    RETRY_AFTER_S,
    ApiProblem,
    domain_problem,
    outage_problem,
)
from ledger.api.responses import OrjsonResponse

log = logging.getLogger("ledger.api")
MESSAGES = {
    400: ("USM-10011", "Invalid data"),
    401: ("USM-00401", "Unauthorized"),
    403: ("USM-10007", "Action forbidden"),
    404: ("USM-00404", "Resource not found"),
    409: ("USM-00409", "Conflict"),
    500: ("USM-00500", "Internal server error"),
    503: ("USM-00503", "Service unavailable"),
}
DESCRIBED = {
    400: "Invalid input request",
    401: "Unauthorized (no valid token, or a token of another tenant)",
    403: "Resource forbidden (the token lacks the scope)",
    404: "Resource not found",
    500: "Internal server error",
    501: "Not implemented (limit, offset, filter, sort on a user's sessions)",
    503: "Database unavailable",
}


class Wso2Error(BaseModel):
    """WSO2's error object (session.yaml `definitions/Error`)."""

    code: str
    message: str
    description: str | None = None
    traceId: str | None = None  # noqa: N815 (WSO2's field name)


class Wso2Failure(Exception):
    """An error with WSO2's own code and message (e.g. USM-00004 for a 501)."""

    def __init__(self, status: int, *, code: str, message: str, description: str) -> None:
        super().__init__(description)
        self.status, self.code, self.message, self.description = status, code, message, description


def error_response(
    status: int, description: str, *, code: str | None = None, message: str | None = None
) -> Response:
    """A WSO2 error body with a fresh trace id."""
    known_code, known_message = MESSAGES.get(status, (f"USM-{status:05d}", "Error"))
    trace = str(uuid.uuid4())
    log.info(
        "WSO2 API error %s %s: %s (traceId %s)", status, code or known_code, description, trace
    )
    body = {
        "code": code or known_code,
        "message": message or known_message,
        "description": description,
        "traceId": trace,
    }
    return OrjsonResponse(body, status_code=status)


def _validation_text(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ())[1:])
    return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))


def as_wso2(exc: Exception, request: Request) -> Response:
    """The WSO2 answer to `exc` raised while serving `request`."""
    headers: dict[str, str] = {}
    if isinstance(exc, Wso2Failure):
        return error_response(exc.status, exc.description, code=exc.code, message=exc.message)
    if isinstance(exc, ApiProblem):
        status, text, headers = exc.status, exc.detail, exc.headers
    elif isinstance(exc, LedgerError):
        status, text = domain_problem(exc)[0], exc.detail
    elif isinstance(exc, RequestValidationError):
        status, text = 400, _validation_text(exc)
    elif isinstance(exc, HTTPException):
        status, text = exc.status_code, str(exc.detail)
    elif isinstance(exc, OUTAGES):
        status, _, _, text = outage_problem(exc)
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        status, text = 500, "the ledger failed to answer; the error was logged"
    response = error_response(400 if status == 422 else status, text)
    response.headers.update(headers)
    return response


class Wso2Route(APIRoute):
    """A route whose every error is answered with WSO2's error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, wrapped."""
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every error gets WSO2's body (as_wso2 logs bugs)
                return as_wso2(exc, request)

        return route


def wso2_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the errors an operation may answer."""
    return {s: {"model": Wso2Error, "description": DESCRIBED[s]} for s in statuses}


def fix_openapi(schema: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Under `prefix`: errors are `application/json` (WSO2's), and 400 replaces 422."""
    for path, item in schema.get("paths", {}).items():
        if not path.startswith(prefix):
            continue
        for operation in item.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            for status, response in responses.items():
                content = response.get("content", {})
                problem = content.pop("application/problem+json", None)
                if status.isdigit() and problem is not None:
                    content["application/json"] = problem
    return schema
