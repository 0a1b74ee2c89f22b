"""The `ledger` command: `serve`, `token`, `db init`, `project`, `expire`.

Configuration comes from `LEDGER_*` environment variables (see README). Errors are one
line on stderr and a non-zero exit, never a traceback. Tests: tests/integration/test_cli.py.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Annotated

import typer

from ledger.errors import ConfigError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Session Ledger: serve the API, run projections, reap expired sessions.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database set-up.")
app.add_typer(db_app, name="db")

EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    """Print `message` to stderr and return the Exit to raise."""
    typer.echo(f"ledger: {message}", err=True)
    return typer.Exit(code)


@db_app.command("init")
def db_init(
    grant_to: Annotated[
        str | None,
        typer.Option(help="PostgreSQL role to grant INSERT and SELECT on the events (no more)."),
    ] = None,
) -> None:
    """Create the tables, the append-only triggers, the seal table and the views (idempotent)."""
    from ledger.bootstrap import bootstrap  # noqa: PLC0415
    from ledger.config import load_settings  # noqa: PLC0415
    from ledger.log_store import LogStore  # noqa: PLC0415
    from ledger.names import tracking_table  # noqa: PLC0415
    from ledger.outbound.runtime import open_store  # noqa: PLC0415
    from ledger.persistence.schema import grant_insert_only  # noqa: PLC0415
    from ledger.seals import SEAL_TABLE, create_seal_table  # noqa: PLC0415

    try:
        settings = load_settings()
        system = bootstrap(settings, run_projections=False)
        tables = [t for v in system.views.values() for t in v.view_tables()]
        tables += [tracking_table(name) for name in system.views]
        system.close()
        outbound, factory = open_store(settings)  # receivers and outbox, with their tracking
        tables += [*outbound.view_tables(), tracking_table(outbound.name)]
        factory.close()
        with LogStore.open(settings.events_url) as store:
            create_seal_table(store)
        if grant_to:
            if not settings.events_url.is_postgres:
                raise fail("--grant-to needs a PostgreSQL LEDGER_DATABASE_URL")
            grant_insert_only(
                settings.events_url, grant_to, view_tables=tables, append_only_tables=[SEAL_TABLE]
            )
    except ConfigError as e:
        raise fail(str(e)) from None
    typer.echo(f"database ready: {settings.events_url.redacted()}")


@app.command()
def project(
    once: Annotated[bool, typer.Option(help="Catch up, reap once, and exit.")] = False,
) -> None:
    """Run the projections and the background workers (reaper, sealer) as their own process."""
    from ledger.bootstrap import bootstrap  # noqa: PLC0415
    from ledger.config import load_settings  # noqa: PLC0415
    from ledger.outbound.runtime import start_outbound  # noqa: PLC0415
    from ledger.reaper import reap  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        settings = load_settings()
        system = bootstrap(settings, run_projections=True)
    except ConfigError as e:
        raise fail(str(e)) from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    head = system.ledger.recorder.max_notification_id()
    if once:
        caught_up = system.wait(head, timeout=600)
        outcome = reap(system.ledger, system.active, system.clock)
        caught_up = caught_up and system.wait(outcome.position, timeout=600)
        system.close()
        typer.echo(f"caught up: {caught_up}; expired: {len(outcome.expired)}")
        raise typer.Exit(0 if caught_up else 1)
    system.start_workers()
    try:
        outbound = start_outbound(settings, system)  # the delivery worker
    except ConfigError as e:
        system.close()
        raise fail(str(e)) from None
    typer.echo("projections running; Ctrl-C to stop", err=True)
    stop.wait()
    outbound.stop()
    system.close()


@app.command()
def expire() -> None:
    """Record the expiry of every session past its expiry time, once, and exit."""
    from ledger.bootstrap import bootstrap  # noqa: PLC0415
    from ledger.config import load_settings  # noqa: PLC0415
    from ledger.reaper import reap  # noqa: PLC0415

    try:
        system = bootstrap(load_settings(), run_projections=False)
    except ConfigError as e:
        raise fail(str(e)) from None
    try:
        head = system.ledger.recorder.max_notification_id()
        if not system.wait(head, timeout=5):
            typer.echo(
                "ledger: warning: the views are behind the log; run `ledger project` "
                "(due sessions are taken from the active_sessions view)",
                err=True,
            )
        outcome = reap(system.ledger, system.active, system.clock)
    finally:
        system.close()
    for tenant, session_id, reason in outcome.expired:
        typer.echo(f"{tenant}\t{session_id}\t{reason}")
    typer.echo(f"expired {len(outcome.expired)} session(s)", err=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (one per core).")] = 1,
    dev: Annotated[
        bool, typer.Option(help="Development mode: a random signing secret under var/.")
    ] = False,
) -> None:
    """Serve the HTTP API (uvicorn), with the projections and the workers (reaper, sealer)."""
    from ledger.api.serve import run  # noqa: PLC0415

    try:
        run(host=host, port=port, workers=workers, dev=dev)
    except ConfigError as e:
        raise fail(str(e)) from None


@app.command()
def token(
    sub: Annotated[str, typer.Option(help="The user id (`sub` claim).")],
    scope: Annotated[
        str, typer.Option(help="Space-separated scopes, e.g. 'sessions:me'.")
    ] = "sessions:me",
    tenant: Annotated[str, typer.Option(help="The tenant claim.")] = "default",
    sid: Annotated[str | None, typer.Option(help="The caller's current session id.")] = None,
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
) -> None:
    """Mint a development token signed with the development secret (or LEDGER_JWT_SECRET)."""
    from ledger.config import load_settings  # noqa: PLC0415
    from ledger.keys.dev_tokens import mint_token  # noqa: PLC0415

    try:
        typer.echo(
            mint_token(load_settings(), sub=sub, scope=scope, tenant=tenant, sid=sid, ttl=ttl)
        )
    except ConfigError as e:
        raise fail(str(e)) from None


def main() -> None:
    """Entry point of the `ledger` console script."""
    try:
        app()
    except ConfigError as e:  # pragma: no cover - commands catch their own
        typer.echo(f"ledger: {e}", err=True)
        sys.exit(EXIT_CONFIG)


if __name__ == "__main__":
    main()
