"""The `ledger-replay` Typer application, its shared options and its error handling.

Configuration is the service's own (`LEDGER_DATABASE_URL`, ...). Exit codes: 0 answered,
1 a discrepancy was found (`verify`, `verify-seals`, `check`), 2 bad usage or an unusable database
(one line naming the setting, never a traceback). Tests: tests/replay/test_cli.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import psycopg
import typer
from eventsourcing.persistence import PersistenceError

from ledger.config import Settings, load_settings
from ledger.errors import ConfigError
from ledger.log_store import CorruptEventError
from replay_tools.times import parse_time

EXIT_DISCREPANCY = 1  # also: the log holds an event that cannot be read
EXIT_CONFIG = 2

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Replay the session ledger's event log for auditors: history at any moment, "
    "timelines, exports, view verification and tamper seals. Reads LEDGER_DATABASE_URL.",
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON for machines instead of a table.")]
Tenant = Annotated[str, typer.Option("--tenant", "-t", help="The user's tenant.")]


def time_value(text: str) -> datetime:
    """An RFC 3339 command-line time, or a usage error saying what is expected."""
    try:
        return parse_time(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None


User = Annotated[str, typer.Argument(help="The user id (as the IdP knows it).")]
Since = Annotated[
    datetime | None,
    typer.Option(parser=time_value, metavar="TIME", help="From this time (RFC 3339), inclusive."),
]
Until = Annotated[
    datetime | None,
    typer.Option(parser=time_value, metavar="TIME", help="Before this time (RFC 3339)."),
]


def fail(message: str, code: int = EXIT_CONFIG) -> typer.Exit:
    """Print `message` on stderr; return the Exit to raise."""
    typer.echo(f"ledger-replay: {message}", err=True)
    return typer.Exit(code)


def _one_line(error: BaseException) -> str:
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


@contextmanager
def configured() -> Iterator[Settings]:
    """The service's settings; any configuration or database failure exits 2 in one line."""
    try:
        yield load_settings()
    except ConfigError as e:
        raise fail(str(e)) from None
    except (psycopg.Error, sqlite3.Error, PersistenceError) as e:  # unreachable, refused, ...
        raise fail(f"LEDGER_DATABASE_URL: database error: {_one_line(e)}") from None
    except CorruptEventError as e:
        raise fail(f"{e}; run `ledger-replay verify-seals`", EXIT_DISCREPANCY) from None
