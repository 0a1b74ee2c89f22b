"""H2: `GET /v1/sessions/{id}/status` (the per-request check) over real HTTP vs a bare endpoint.

Set up exactly like H1 (`bench.http`): a seeded store, the `bench.h1_server` process (the
ledger's app plus `/bench/bare`, one uvicorn worker), 64 connections from `wrk` (or
`bench.loadgen`) in another process, 127.0.0.1 only. The bare endpoint answers the very bytes
the status check answered, so the ratio is what the token check, the primary-key read of
`session_history` and the JSON rendering cost.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import jwt

from bench.core import Row, Sizes
from bench.http import CONNECTIONS, _wait_ready, drive, free_port
from bench.infra import (
    JWT_SECRET,
    TENANT,
    database,
    human_bytes,
    settings,
    settle,
    store_size,
    url_text,
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
        settle(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "LEDGER_DATABASE_URL": url_text(url), "LEDGER_JWT_SECRET": JWT_SECRET}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.h1_server", str(port)], env=env,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(base, proc)
            auth = f"Authorization: Bearer {check_token()}"
            real = f"{base}/v1/sessions/{session_id}/status"
            answer = httpx.get(real, headers={"Authorization": auth.split(": ", 1)[1]})
            answer.raise_for_status()
            assert answer.json()["active"] is True, answer.text
            httpx.put(f"{base}/bench/bare", content=answer.content).raise_for_status()
            warm = min(3.0, sizes.h1_seconds / 4)
            drive(f"{base}/bench/bare", [], warm)
            bare = drive(f"{base}/bench/bare", [], sizes.h1_seconds)
            drive(real, [auth], warm)
            ledger = drive(real, [auth], sizes.h1_seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        size = human_bytes(store_size(url))
    row = Row(
        id="H2", case=f"{kind}, {CONNECTIONS} connections", metric="requests/s",
        ledger=round(ledger["rps"], 1), baseline=round(bare["rps"], 1),
        baseline_name="bare endpoint in the same server returning the same bytes (requests/s)",
        p50_ms=ledger["p50_ms"], p99_ms=ledger["p99_ms"], baseline_p50_ms=bare["p50_ms"],
        baseline_p99_ms=bare["p99_ms"], store=size,
    )  # fmt: skip
    row.extra = {"ledger": ledger, "bare": bare}
    row.notes = (
        f"{ledger['generator']}, {sizes.h1_seconds:.0f} s each; {sessions:,} sessions in the"
        f" store, answer {len(answer.content)} bytes; one uvicorn worker"
    )
    bad = [f"{n}: {r['non2xx']} non-2xx, errors {r['errors']}" for n, r in
           (("ledger", ledger), ("bare", bare)) if r["non2xx"] or r["errors"]]  # fmt: skip
    if bad:
        row.notes += "; " + "; ".join(bad)
    return [row]
