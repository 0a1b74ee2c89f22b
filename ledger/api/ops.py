"""Operations endpoints, without auth: liveness, readiness with projection lag, metrics.

`/readyz` is 503 when the database does not answer or a view is more than
`LEDGER_READY_MAX_LAG` notifications behind the log. Tests: tests/api/test_ops.py.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.responses import Response

from ledger.api.context import ContextDep
from ledger.api.problems import OUTAGES, ApiProblem, error_responses
from ledger.api.responses import OrjsonResponse

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    """Liveness."""

    status: str


class Readiness(BaseModel):
    """Readiness: how many notifications each view is behind the log."""

    status: str
    lag: dict[str, int]


@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Response:
    """200 while the process answers."""
    return OrjsonResponse({"status": "ok"})


@router.get(
    "/readyz", response_model=Readiness, responses=error_responses(503), summary="Readiness"
)
def readyz(context: ContextDep) -> Response:
    """200 when the database answers and every view is close to the log's head."""
    system = context.ready_system()
    try:
        lag = system.lag()
    except OUTAGES as e:
        raise ApiProblem(
            503, "not-ready", "Not ready", f"the database does not answer ({type(e).__name__})"
        ) from None
    limit = context.settings.ready_max_lag
    behind = sorted(name for name, n in lag.items() if n > limit)
    if behind:
        raise ApiProblem(
            503,
            "not-ready",
            "Not ready",
            f"{', '.join(behind)} more than {limit} notifications behind the log",
            extra={"lag": lag},
        )
    return OrjsonResponse({"status": "ready", "lag": lag})


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics",
)
def metrics(context: ContextDep) -> Response:
    """Request and command counters, request durations, projection lag."""
    return Response(
        context.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
