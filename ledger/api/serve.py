"""`ledger serve`: uvicorn running the application factory, one process per worker.

Each worker builds its own app (`ledger.api.app:create_app`, factory=True) and runs the
projections; the projection lock (`ledger.projections.runner`) keeps one runner per
projection across workers. The configuration is checked once before any worker starts,
so a bad setting is one line naming it. `SERVER_OPTIONS` are uvicorn's settings for every
worker: httptools and uvloop (from `uvicorn[standard]`, named so that a missing one fails
instead of silently falling back to the slower pure-Python ones), and an access log line
per request at INFO, as uvicorn does by default; the H1 benchmark serves with the very
same options (bench/h1_server.py). Development mode (anyone may mint any token) is refused
on an address other than loopback unless `LEDGER_UNSAFE_DEV_MODE_EXPOSED=true`.
Tests: tests/api/test_serve.py, tests/security/test_unsafe_defaults.py.
"""

from __future__ import annotations

import os
from typing import Any

import typer
import uvicorn

from ledger.bootstrap import bootstrap, build_front
from ledger.config import Settings, is_loopback_host, load_settings
from ledger.errors import ConfigError
from ledger.outbound.keys import load_signing_keys

SERVER_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "uvloop",
    "proxy_headers": False,
    "log_level": "info",
    "access_log": True,
}


WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names, not a bind


def check_dev_exposure(settings: Settings, *, host: str) -> None:
    """Refuse development mode on a non-loopback address (unless the loud override is set)."""
    if settings.dev_mode and not is_loopback_host(host) and not settings.unsafe_dev_mode_exposed:
        raise ConfigError(
            "LEDGER_DEV_MODE",
            f"development mode lets anyone mint admin tokens: refused on --host {host} "
            "(bind 127.0.0.1, or set LEDGER_UNSAFE_DEV_MODE_EXPOSED=true to force it)",
        )


def banner(settings: Settings, *, host: str, port: int, dev: bool) -> str:
    """What `ledger serve` prints before serving: where the docs are, how to get a token."""
    shown = "127.0.0.1" if host in WILDCARDS else f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [f"Session Ledger on {settings.events_url.redacted()}"]
    if host in WILDCARDS:  # reachable from other machines: say so, not just the local URL
        lines.append(f"Listening on every interface ({host or '*'}), port {port}")
    if settings.dev_mode and (settings.unsafe_dev_mode_exposed or not is_loopback_host(host)):
        lines.append(
            "WARNING: DEVELOPMENT MODE EXPOSED (LEDGER_UNSAFE_DEV_MODE_EXPOSED): "
            "ANYONE WHO REACHES IT CAN MINT ADMIN TOKENS"
        )
    lines += [
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
    check_dev_exposure(settings, host=host)
    dev_secret = build_front(settings).dev_secret  # a bad key or connections file stops here
    load_signing_keys(settings)  # a bad LEDGER_SIGNING_KEY_FILE stops here, in one line
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
