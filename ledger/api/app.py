"""The FastAPI application factory: `create_app(settings, system=..., clock=...)`.

No side effects at import. The factory checks the signing keys (a ConfigError names the
setting); the lifespan bootstraps the system unless one is given, starts its background
workers (reaper, sealer) when projections run in this process, and closes what it opened.
Once started, it moves every object alive into the collector's permanent generation
(`gc.freeze`, undone at shutdown): the ~100,000 objects of the loaded application are no
longer traversed by each full collection, which otherwise paused a busy server for up to
100 ms several times a minute (bench H1: p99 of the bare endpoint 70-80 ms -> about 20-30).
`uvicorn --factory ledger.api.app:create_app` (what `ledger serve` runs) builds one per worker.
Tests: tests/api/.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.staticfiles import StaticFiles

from ledger.api import (
    admin,
    charts,
    console,
    events,
    inbound,
    ingest,
    live,
    me,
    oidc,
    operators,
    ops,
    pages,
    session_status,
    ssf,
    stats,
    webhooks,
    wso2_sessions,
)
from ledger.api.context import ApiContext
from ledger.api.headers import ApiHeadersMiddleware
from ledger.api.limits import BodyLimitMiddleware
from ledger.api.metrics import Metrics, MetricsMiddleware
from ledger.api.problems import PROBLEM_TYPE, install_problem_handlers
from ledger.api.responses import OrjsonResponse
from ledger.application import Clock, utc_now
from ledger.bootstrap import LedgerSystem, bootstrap, build_front
from ledger.config import Settings, load_settings
from ledger.inbound.seam import Inbound
from ledger.outbound.runtime import start_outbound
from ledger.persistence.async_reads import AsyncReads, async_reads_for
from ledger.persistence.seen_store import open_seen_store

log = logging.getLogger("ledger.api")
STATIC = Path(__file__).parent / "static"
DESCRIPTION = (
    "Who has which login sessions open, and how every session ended. "
    "Auth: `Authorization: Bearer <JWT>`; scopes `sessions:me`, `sessions:read`, "
    "`sessions:terminate`, `sessions:audit`, `sessions:ingest`; for receivers of shared "
    "signals and webhooks `ssf.manage`, `ssf.read`, `webhooks:manage`. "
    "Errors are RFC 9457 `application/problem+json`."
)


def create_app(
    settings: Settings | None = None,
    *,
    system: LedgerSystem | None = None,
    clock: Clock = utc_now,
) -> FastAPI:
    """Build the API. With `system`, serve it (the caller closes it); else bootstrap one."""
    settings = settings or (system.settings if system is not None else load_settings())
    front = build_front(settings)
    context = ApiContext(
        settings=settings,
        verifier=front.verifier,
        metrics=Metrics(),
        dev_mode=front.dev_secret,
        connections=front.connections,
    )
    app = FastAPI(
        title="Session Ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan(context, system=system, clock=clock),
        default_response_class=OrjsonResponse,
    )
    app.state.ledger = context
    install_problem_handlers(app)
    for router in (me.router, admin.router, ingest.router, events.router, oidc.router,
                   inbound.router, ops.router, ssf.router, webhooks.router):  # fmt: skip
        app.include_router(router)
    app.include_router(session_status.router)
    app.include_router(console.router)
    app.include_router(stats.router)
    app.include_router(live.router)
    app.include_router(charts.router)
    app.include_router(operators.router)
    _include_pages(app)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        paths={"/v1/events": settings.max_batch_body_bytes},
    )
    app.add_middleware(ApiHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=context.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    wso2_sessions.install(app)
    return app


def _lifespan(
    context: ApiContext, *, system: LedgerSystem | None, clock: Clock
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Startup and shutdown: the system (bootstrapped unless given), its workers, inbound seam."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings = context.settings
        running = system or bootstrap(settings, clock=clock)
        reads = async_reads_for(running.settings.views_url, max_size=settings.pg_pool_size)
        try:
            await _attach_reads(running, reads)
            seen = open_seen_store(settings.events_url)
            count = context.metrics.inbound_event
            context.seam = Inbound(seen=seen, count=count, clock=running.clock)
            if running.projections is not None:  # projections run here: so do the workers
                running.start_workers()
            context.metrics.lag.source = running.lag
            app.state.outbound = start_outbound(settings, running, context.metrics.registry)
            context.system = running
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            live.stop_hub(app)
            context.system = None
            await _detach_reads(running, reads)
            running.stop_workers()
            if getattr(app.state, "outbound", None) is not None:
                app.state.outbound.stop()
                app.state.outbound = None
            if context.seam is not None:
                context.seam.seen.close()
                context.seam = None
            if system is None:
                running.close()

    return lifespan


async def _attach_reads(system: LedgerSystem, reads: AsyncReads | None) -> None:
    """The views' GET queries awaited on an async pool (PostgreSQL; SQLite keeps threads)."""
    if reads is not None:
        await reads.open()
        for view in system.views.values():
            view.async_reads = reads


async def _detach_reads(system: LedgerSystem, reads: AsyncReads | None) -> None:
    if reads is not None:
        for view in system.views.values():
            if view.async_reads is reads:
                view.async_reads = None
        await reads.close()


def _include_pages(app: FastAPI) -> None:
    """The web pages and their static files."""
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with error responses declared as problem+json."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                problem = content.pop("application/json", None)
                if status.isdigit() and int(status) >= 400 and problem is not None:
                    if "OAuthError" in str(problem):
                        content["application/json"] = problem
                    else:
                        content[PROBLEM_TYPE] = problem
                elif problem is not None:
                    content["application/json"] = problem
    schema.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
    schema.get("components", {}).get("schemas", {}).pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
