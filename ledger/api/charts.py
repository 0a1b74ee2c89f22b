"""The console's charts drawn on the server as SVG: `GET /web/charts/{name}.svg` (`sessions:read`).

Drawn from the same numbers `/v1/stats/*` answers (`ledger/api/stats.py`), so a chart and the
table beside it on the page cannot disagree. Server-drawn rather than a JavaScript charting
library: nothing to vendor or update, no script runs for it (the pages' CSP stays strict), and
the drawing is tested in Python. Each SVG has `role="img"`, a `<title>` and a `<desc>`
summing up the numbers; every text is escaped. Colours are the Okabe-Ito palette (told apart
with colour blindness), each series also named in the legend.
Tests: tests/api/test_console_api.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from ledger.aggregates.rules import REASON_LABELS, TerminationReason
from ledger.api.auth import Reader
from ledger.api.context import ContextDep
from ledger.api.problems import error_responses, single_valued_query
from ledger.api.stats import (
    counts_view,
    open_sessions,
    sign_ins,
    span,
    terminations,
    top_applications,
)

router = APIRouter(
    prefix="/web/charts", tags=["web pages"], dependencies=[Depends(single_valued_query)]
)
W, H, LEFT, BOTTOM, TOP = 640, 260, 44, 36, 16
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#6b6b00"]
ChartName = Literal["open-sessions", "sign-ins", "terminations", "applications"]


def _svg(title: str, desc: str, body: list[str], *, height: int = H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img"'
        f' aria-labelledby="chart-title chart-desc" class="chart">'
        f'<title id="chart-title">{escape(title)}</title>'
        f'<desc id="chart-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _axis(top: int, labels: Sequence[str], every: int) -> list[str]:
    """Left axis with 0 and the maximum, and every `every`-th x label."""
    plot_w = W - LEFT - 8
    step = plot_w / max(len(labels), 1)
    out = [
        f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - 8}" y2="{H - BOTTOM}" stroke="#555"/>',
        f'<text x="{LEFT - 6}" y="{H - BOTTOM}" text-anchor="end" font-size="12">0</text>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="12">{top}</text>',
    ]
    for i, label in enumerate(labels):
        if i % every == 0:
            x = LEFT + step * i + step / 2
            out.append(
                f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle"'
                f' font-size="11">{escape(label)}</text>'
            )
    return out


def stacked_bars(
    title: str, labels: Sequence[str], series: dict[str, list[int]], *, every: int = 1
) -> str:
    """Vertical bars, one per label, stacked by series (one series: plain bars)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = max([*totals, 1])
    plot_h, step = H - BOTTOM - TOP, (W - LEFT - 8) / max(len(labels), 1)
    body = _axis(top, labels, every)
    for i in range(len(labels)):
        y = float(H - BOTTOM)
        for k, values in enumerate(series.values()):
            h = plot_h * values[i] / top
            if h > 0:
                y -= h
                body.append(
                    f'<rect x="{LEFT + step * i + 1:.1f}" y="{y:.1f}"'
                    f' width="{max(step - 2, 1):.1f}" height="{h:.1f}"'
                    f' fill="{PALETTE[k % len(PALETTE)]}"/>'
                )
    body += _legend(list(series)) if len(series) > 1 else []
    desc = f"{sum(totals)} in all; most in one bar: {max(totals, default=0)}."
    return _svg(title, desc, body, height=H + (22 if len(series) > 1 else 0))


def _legend(names: list[str]) -> list[str]:
    out, x = [], LEFT
    for k, name in enumerate(names):
        out.append(
            f'<rect x="{x}" y="{H + 4}" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{x + 16}" y="{H + 14}" font-size="12">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def line(title: str, labels: Sequence[str], values: Sequence[int], *, every: int) -> str:
    """A line through the values, with a dot on each."""
    top = max([*values, 1])
    plot_h, step = H - BOTTOM - TOP, (W - LEFT - 8) / max(len(labels), 1)
    points = [
        (LEFT + step * i + step / 2, H - BOTTOM - plot_h * v / top) for i, v in enumerate(values)
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    body = _axis(top, labels, every)
    body.append(f'<polyline points="{path}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"/>' for x, y in points]
    desc = f"From {values[0] if values else 0} to {values[-1] if values else 0}; at most {top}."
    return _svg(title, desc, body)


def horizontal_bars(title: str, rows: Sequence[tuple[str, int]]) -> str:
    """One horizontal bar per row, named on the left, its number on the right."""
    top = max([n for _, n in rows] + [1])
    height = max(28 * len(rows) + 8, 40)
    body = []
    for i, (name, n) in enumerate(rows):
        y, w = 4 + 28 * i, (W - 220) * n / top
        body.append(
            f'<text x="150" y="{y + 16}" text-anchor="end" font-size="13">'
            f"{escape(name[:24])}</text>"
        )
        body.append(f'<rect x="158" y="{y}" width="{w:.1f}" height="20" fill="{PALETTE[0]}"/>')
        body.append(f'<text x="{164 + w:.1f}" y="{y + 15}" font-size="12">{n}</text>')
    if not rows:
        body.append('<text x="20" y="24" font-size="13">No sign-ins in these 30 days.</text>')
    return _svg(title, f"{len(rows)} applications.", body, height=height)


@router.get(
    "/{name}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **error_responses(401, 403, 422, 503)},
)
def chart(
    name: ChartName,
    caller: Reader,
    context: ContextDep,
    window: Annotated[Literal["24h", "30d"], Query()] = "24h",
) -> Response:
    """One of the overview's charts as SVG."""
    now, view, tenant = context.now(), counts_view(context), caller.tenant
    if name == "open-sessions":
        daily = window == "30d"
        s = span(now, days=30) if daily else span(now, hours=24)
        points = open_sessions(view, tenant, s, step=24 if daily else 1)
        labels = [p["at"].strftime("%d %b" if daily else "%H:%M") for p in points]
        svg = line(
            f"Open sessions, last {'30 days' if daily else '24 hours'}",
            labels,
            [p["open"] for p in points],
            every=5 if daily else 4,
        )
    elif name == "sign-ins":
        hours = sign_ins(view, tenant, span(now, hours=24))
        labels = [h["hour"].strftime("%H:00") for h in hours]
        series = {"Sign-ins": [h["sign_ins"] for h in hours]}
        svg = stacked_bars("Sign-ins per hour, last 24 hours", labels, series, every=4)
    elif name == "terminations":
        data = terminations(view, tenant, span(now, days=30))
        labels = [d["day"][8:10] + "/" + d["day"][5:7] for d in data["days"]]
        series = {
            _reason_label(r): [d["reasons"][r] for d in data["days"]] for r in data["reasons"]
        }
        svg = stacked_bars("Terminations per day by reason, last 30 days", labels, series, every=5)
    else:
        apps = top_applications(view, tenant, span(now, days=30), limit=10)
        svg = horizontal_bars(
            "Top applications by sign-ins, last 30 days", [(a["name"], a["sign_ins"]) for a in apps]
        )
    svg = svg.replace("chart-title", f"{name}-title").replace("chart-desc", f"{name}-desc")
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


def _reason_label(reason: str) -> str:
    try:
        return REASON_LABELS[TerminationReason(reason)]
    except ValueError:
        return reason
