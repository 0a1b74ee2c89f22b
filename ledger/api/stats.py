"""The console's charts as numbers: `/v1/stats/*` (scope `sessions:read`), from `session_counts`.

Each answer is a few grouped reads of the counts view (per tenant, hour, kind and label),
never a scan of the log or of the sessions. Hours and days are UTC and are those of the
events' own time. "Open sessions" at a moment is sessions started minus sessions ended by
then, as recorded: a session past its expiry counts until the reaper records the expiry
(within `LEDGER_REAPER_INTERVAL_S`), which it does at the expiry's own time.
Tests: tests/api/test_console_api.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from ledger.aggregates.rules import TerminationReason
from ledger.api.auth import Reader
from ledger.api.context import ApiContext, ContextDep
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.responses import OrjsonResponse
from ledger.projections.deltas import to_us
from ledger.projections.session_counts import ENDED, HOUR_US, STARTED, SessionCountsView

router = APIRouter(prefix="/v1/stats", tags=["stats"], dependencies=[Depends(single_valued_query)])
READS = error_responses(401, 403, 422, 503)
Window = Literal["24h", "30d"]
REASON_ORDER = [r.value for r in TerminationReason]


@dataclass(frozen=True)
class Span:
    """Hours [first, last] (since the epoch) ending with the current one."""

    first: int
    now_hour: int
    now: datetime


def counts_view(context: ApiContext) -> SessionCountsView:
    """The `session_counts` view (503 while the ledger is not running)."""
    view = context.ready_system().views["session_counts"]
    assert isinstance(view, SessionCountsView)
    return view


def span(now: datetime, *, hours: int = 0, days: int = 0) -> Span:
    """The last `hours` hours, or the last `days` whole UTC days, up to `now`."""
    now_hour = to_us(now) // HOUR_US
    first = now_hour - hours + 1 if hours else (now_hour // 24 - days + 1) * 24
    return Span(first, now_hour, now)


def hour_start(hour: int) -> datetime:
    """The moment hour `hour` (since the epoch) begins."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)


def open_sessions(
    view: SessionCountsView, tenant: str, s: Span, *, step: int
) -> list[dict[str, Any]]:
    """Open sessions at the end of each `step` hours of the span (the last point is now)."""
    open_now = view.balance_before(tenant, s.first)
    change: Counter[int] = Counter()
    for c in view.hourly(tenant, STARTED, since=s.first, until=s.now_hour + 1):
        change[c.hour] += c.n
    for c in view.hourly(tenant, ENDED, since=s.first, until=s.now_hour + 1):
        change[c.hour] -= c.n
    points = []
    for bucket in range(s.first, s.now_hour + 1, step):
        open_now += sum(change[h] for h in range(bucket, bucket + step))
        end = min(hour_start(bucket + step), s.now)
        points.append({"at": end, "open": open_now})
    return points


def sign_ins(view: SessionCountsView, tenant: str, s: Span) -> list[dict[str, Any]]:
    """Sessions started in each hour of the span."""
    per_hour: Counter[int] = Counter()
    for c in view.hourly(tenant, STARTED, since=s.first, until=s.now_hour + 1):
        per_hour[c.hour] += c.n
    return [
        {"hour": hour_start(h), "sign_ins": per_hour[h]} for h in range(s.first, s.now_hour + 1)
    ]


def terminations(view: SessionCountsView, tenant: str, s: Span) -> dict[str, Any]:
    """Sessions ended on each day of the span, by reason."""
    per_day: dict[int, Counter[str]] = defaultdict(Counter)
    for c in view.hourly(tenant, ENDED, since=s.first, until=s.now_hour + 1):
        per_day[c.hour // 24][c.label] += c.n
    seen = {reason for counts in per_day.values() for reason in counts}
    reasons = [r for r in REASON_ORDER if r in seen] + sorted(seen - set(REASON_ORDER))
    days = []
    for day in range(s.first // 24, s.now_hour // 24 + 1):
        counts = per_day.get(day, Counter())
        days.append(
            {
                "day": hour_start(day * 24).date().isoformat(),
                "reasons": {r: counts[r] for r in reasons},
                "total": sum(counts.values()),
            }
        )
    return {"reasons": reasons, "days": days}


def top_applications(
    view: SessionCountsView, tenant: str, s: Span, *, limit: int
) -> list[dict[str, Any]]:
    """The applications most sessions started in during the span, most first."""
    per_app: Counter[str] = Counter()
    for c in view.hourly(tenant, STARTED, since=s.first, until=s.now_hour + 1):
        if c.label:
            per_app[c.label] += c.n
    top = sorted(per_app.items(), key=lambda item: (-item[1], item[0]))[:limit]
    names = view.application_names(tenant, [app for app, _ in top])
    return [{"id": app, "name": names.get(app, app), "sign_ins": n} for app, n in top]


@router.get("/open-sessions", responses=READS, summary="Open sessions over time")
def open_sessions_route(
    caller: Reader, context: ContextDep, window: Annotated[Window, Query()] = "24h"
) -> Response:
    """`24h`: at the end of each of the last 24 hours; `30d`: of each of the last 30 days."""
    now, view = context.now(), counts_view(context)
    s = span(now, hours=24) if window == "24h" else span(now, days=30)
    points = open_sessions(view, caller.tenant, s, step=1 if window == "24h" else 24)
    return OrjsonResponse({"window": window, "points": points})


@router.get("/sign-ins", responses=READS, summary="Sign-ins per hour, last 24 hours")
def sign_ins_route(caller: Reader, context: ContextDep) -> Response:
    """Sessions started in each of the last 24 hours (the last one is the current hour)."""
    s = span(context.now(), hours=24)
    return OrjsonResponse({"hours": sign_ins(counts_view(context), caller.tenant, s)})


@router.get("/terminations", responses=READS, summary="Terminations per day by reason")
def terminations_route(caller: Reader, context: ContextDep) -> Response:
    """Sessions ended on each of the last 30 days (UTC), by termination reason."""
    s = span(context.now(), days=30)
    return OrjsonResponse(terminations(counts_view(context), caller.tenant, s))


@router.get("/applications", responses=READS, summary="Top applications, last 30 days")
def applications_route(
    caller: Reader,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=50, description="How many applications.")] = 10,
) -> Response:
    """The applications most sessions started in over the last 30 days, with their counts."""
    s = span(context.now(), days=30)
    apps = top_applications(counts_view(context), caller.tenant, s, limit=limit)
    return OrjsonResponse({"applications": apps})
