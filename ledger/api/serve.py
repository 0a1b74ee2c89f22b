"""`ledger serve`: uvicorn running the application factory, one process per worker.

Each worker builds its own app (`ledger.api.app:create_app`, factory=True) and runs the
projections; the projection lock (`ledger.projections.runner`) keeps one runner per
projection across workers. The configuration is checked once before any worker starts,
so a bad setting is one line naming it. `SERVER_OPTIONS` are uvicorn's settings for every
worker: httptools and uvloop (from `uvicorn[standard]`, named so that a missing one fails
instead of silently falling back to the slower pure-Python ones), and an access log line
per request at INFO, as uvicorn does by default; the H1 benchmark serves with the very
same options (bench/h1_server.py). Tests: tests/api/test_serve.py.
"""

from __future__ import annotations

import os
from typing import Any

import typer
import uvicorn

from ledger.api.app import make_verifier
from ledger.bootstrap import bootstrap
from ledger.config import Settings, load_settings
from ledger.errors import ConfigError
from ledger.inbound.connections import load_connections
from ledger.outbound.keys import load_signing_keys

SERVER_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "proxy_headers": False,
    "log_level": "info",
    "access_log": True,
}


def banner(settings: Settings, *, host: str, port: int, dev: bool) -> str:
    """What `ledger serve` prints before serving: where the docs are, how to get a token."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    base = f"http://{shown}:{port}"
    lines = [
        f"Session Ledger on {settings.events_url.redacted()}",
        f"API docs: {base}/docs",
        f"Pages:    {base}/myaccount/sessions and {base}/console",
    ]
    if dev:
        lines += [
            f"Development mode: tokens are signed with the random secret in "
            f"{settings.dev_secret_file} (never use it in production).",
            "Mint a token:  .venv/bin/ledger token --sub alice --scope sessions:me",
            f"Then:          curl -H 'Authorization: Bearer <token>' {base}/v1/me/sessions",
        ]
    else:
        lines.append("Tokens: from your identity provider (LEDGER_JWKS_*) or LEDGER_JWT_SECRET")
    return "\n".join(lines)


def run(*, host: str, port: int, workers: int, dev: bool) -> None:
    """Check the configuration, print the banner, and serve until interrupted."""
    if workers < 1:
        raise ConfigError("--workers", "at least 1")
    if dev:
        os.environ["LEDGER_DEV_MODE"] = "true"  # the workers load their settings from it
    settings = load_settings()
    _, dev_secret = make_verifier(settings)
    load_signing_keys(settings)  # a bad LEDGER_SIGNING_KEY_FILE stops here, in one line
    load_connections(settings)  # a bad connections file stops here, with one line
    bootstrap(settings, run_projections=False).close()  # the database is usable
    typer.echo(banner(settings, host=host, port=port, dev=dev_secret), err=True)
    uvicorn.run(
        "ledger.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **SERVER_OPTIONS,
    )
