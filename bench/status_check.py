"""H2: `GET /v1/sessions/{id}/status` (the per-request check) over real HTTP vs a bare endpoint.

Set up exactly like H1 (`bench.http`): a seeded store, the `bench.h1_server` process (the
ledger's app plus `/bench/bare`, one uvicorn worker), 64 connections from `wrk` (or
`bench.loadgen`) in another process, 127.0.0.1 only. The bare endpoint answers the very bytes
the status check answered, so the ratio is what the token check, the primary-key read of
`session_history` and the JSON rendering cost.
"""

from __future__ import annotations

import time

import jwt

from bench.core import Row, Sizes
from bench.http import versus_bare, versus_bare_row
from bench.infra import (
    JWT_SECRET,
    TENANT,
    database,
    human_bytes,
    settings,
    store_size,
)
from bench.seed import seed
from ledger.bootstrap import bootstrap
from ledger.persistence.url import DatabaseURL


def check_token() -> str:
    """A `sessions:check` token of the bench tenant (HS256, the server's secret)."""
    now = int(time.time())
    claims = {"sub": "gateway-1", "scope": "sessions:check", "tenant": TENANT, "iat": now,
              "exp": now + 3600}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _open_session(url: DatabaseURL, sessions: int) -> str:
    """Seed the store; the id of one session open for the whole run."""
    system = bootstrap(settings(url, group_commit=False), run_projections=False)
    try:
        seed(system.ledger, sessions=sessions, views=[system.active, system.history])
        page = system.active.list_sessions(TENANT, now=system.clock(), limit=1)
        return page.sessions[0].id
    finally:
        system.close()


def h2(kind: str, sizes: Sizes) -> list[Row]:
    """H2: the status check vs the bare endpoint in the same server, 64 connections."""
    sessions = 10_000 if sizes.mode == "quick" else 100_000
    with database(kind, "h2") as url:
        session_id = _open_session(url, sessions)
        path = f"/v1/sessions/{session_id}/status"
        ledger, bare, answer = versus_bare(url, path, check_token(), sizes.h1_seconds)
        assert answer.json()["active"] is True, answer.text
        size = human_bytes(store_size(url))
    notes = (
        f"{ledger['generator']}, {sizes.h1_seconds:.0f} s each; {sessions:,} sessions in the"
        f" store, answer {len(answer.content)} bytes; one uvicorn worker"
    )
    return [versus_bare_row("H2", kind, (ledger, bare), store=size, notes=notes)]
