"""Operations endpoints: liveness, readiness with projection lag, metrics.

`/readyz` is 503 when the database is away (its gate is closed: no I/O, at once), its disk
is full (SQLite), it does not answer within `PROBE_TIMEOUT_S`, or a view is more than
`LEDGER_READY_MAX_LAG` notifications behind the log. None of them uses the request thread
pool, so they answer while it is exhausted: `/healthz` does no I/O at all, and the database
reads of `/readyz` and `/metrics` run on a small executor of their own, bounded by
`PROBE_TIMEOUT_S`. `/metrics` needs a token with `LEDGER_METRICS_SCOPE` when it is set.
Tests: tests/api/test_ops.py, tests/security/test_probes_and_outages.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from starlette.responses import Response

from ledger.api.auth import metrics_caller
from ledger.api.context import ContextDep
from ledger.api.problems import (
    OUTAGES,
    RETRY_AFTER_S,
    ApiProblem,
    error_responses,
    outage_problem,
)
from ledger.api.responses import OrjsonResponse
from ledger.bootstrap import LedgerSystem
from ledger.persistence.gate import database_problem

router = APIRouter(tags=["ops"])
PROBE_TIMEOUT_S = 1.5  # under the 2 s a probe of an orchestrator is given
# Threads start on first use only; never shared with request handlers.
_probes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ledger-probe")
PROBE_ERRORS: tuple[type[Exception], ...] = (*OUTAGES, TimeoutError)
T = TypeVar("T")


async def probe(read: Callable[[], T]) -> T:
    """Run a blocking read on the probes' executor; TimeoutError past PROBE_TIMEOUT_S."""
    loop = asyncio.get_running_loop()
    return await asyncio.wait_for(loop.run_in_executor(_probes, read), PROBE_TIMEOUT_S)


class Health(BaseModel):
    """Liveness."""

    status: str


class Readiness(BaseModel):
    """Readiness: how many notifications each view is behind the log."""

    status: str
    lag: dict[str, int]


@router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> Response:
    """200 while the process answers."""
    return OrjsonResponse({"status": "ok"})


@router.get(
    "/readyz", response_model=Readiness, responses=error_responses(503), summary="Readiness"
)
async def readyz(context: ContextDep) -> Response:
    """200 when the database answers and every view is close to the log's head."""
    system = context.ready_system()
    try:
        lag = await probe(lambda: _ready_lag(system))
    except NotReady as e:
        raise not_ready(str(e)) from None
    except OUTAGES as e:
        raise not_ready(outage_problem(e)[3]) from None
    except TimeoutError:
        raise not_ready("the database does not answer in time") from None
    limit = context.settings.ready_max_lag
    behind = sorted(name for name, n in lag.items() if n > limit)
    if behind:
        raise not_ready(
            f"{', '.join(behind)} more than {limit} notifications behind the log", lag=lag
        )
    return OrjsonResponse({"status": "ready", "lag": lag})


class NotReady(Exception):
    """The database cannot serve (away, or its disk full)."""


def _ready_lag(system: LedgerSystem) -> dict[str, int]:
    settings = system.settings
    for url in {settings.events_url, settings.views_url}:
        problem = database_problem(url)
        if problem is not None:
            raise NotReady(problem)
    return system.lag()


def not_ready(detail: str, **extra: object) -> ApiProblem:
    """The 503 of `/readyz`."""
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    return ApiProblem(503, "not-ready", "Not ready", detail, headers=headers, extra=extra)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format"},
        **error_responses(401, 403, 503),
    },
    summary="Prometheus metrics",
    dependencies=[Depends(metrics_caller)],
)
async def metrics(context: ContextDep) -> Response:
    """Request and command counters, request durations, projection lag."""
    try:
        body = await probe(context.metrics.exposition)
    except TimeoutError:
        raise ApiProblem(
            503, "unavailable", "Service unavailable", "metrics did not answer in time"
        ) from None
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
