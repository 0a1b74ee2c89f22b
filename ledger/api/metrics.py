"""Prometheus metrics of one application (its own `CollectorRegistry`, so tests can build many).

* `ledger_http_requests_total{method, route, status}` and
  `ledger_http_request_duration_seconds{method, route}`: by route template, never raw path.
* `ledger_commands_total{command, outcome}`: each command and what it did (or its error).
* `ledger_inbound_events_total{connection, kind, outcome}`: each message of an identity
  provider's connection and what became of it (recorded, duplicate, ignored, refused...).
* `ledger_projection_lag{view}`: notifications each view is behind the log, read at scrape.
Tests: tests/api/test_ops.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class LagCollector(Collector):
    """Reads the projection lag when scraped (nothing when the database is down)."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, int]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge sample per view."""
        gauge = GaugeMetricFamily(
            "ledger_projection_lag", "Notifications the view is behind the log", labels=["view"]
        )
        if self.source is not None:
            try:
                lag = self.source()
            except Exception:  # a scrape must not fail when the db is down
                lag = {}
            for view, behind in sorted(lag.items()):
                gauge.add_metric([view], float(behind))
        yield gauge


class Metrics:
    """The application's metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ledger_http_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ledger_http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.commands = Counter(
            "ledger_commands",
            "Ledger commands by outcome",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.inbound = Counter(
            "ledger_inbound_events",
            "Messages from identity providers' connections by outcome",
            ["connection", "kind", "outcome"],
            registry=self.registry,
        )
        self.stale = Counter(
            "ledger_consistency_timeouts",
            "Commands answered before the views caught up (consistency timeout)",
            registry=self.registry,
        )
        self.lag = LagCollector()
        self.registry.register(self.lag)

    def command(self, name: str, outcome: str) -> None:
        """Count one command."""
        self.commands.labels(command=name, outcome=outcome).inc()

    def inbound_event(self, connection: str, kind: str, outcome: str) -> None:
        """Count one inbound message."""
        self.inbound.labels(connection=connection, kind=kind, outcome=outcome).inc()

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route: Any = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            method = method if method in METHODS else "other"
            self.metrics.requests.labels(method=method, route=template, status=str(status)).inc()
            self.metrics.latency.labels(method=method, route=template).observe(
                time.perf_counter() - started
            )
