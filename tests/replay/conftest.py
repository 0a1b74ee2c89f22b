"""Fixtures of the replay tests: the `ledger-replay` CLI on the test database, raw SQL access.

`replay(*args)` runs a command through typer's CliRunner with LEDGER_DATABASE_URL pointing at
the current test database (SQLite file or PostgreSQL schema), stdout and stderr apart.
`raw_sql(database_url)` is a plain connection for tampering with tables behind the ledger.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from ledger.log_store import LogStore
from ledger.persistence.url import DatabaseURL
from replay_tools.cli import app

Replay = Callable[..., Result]


def log_store(database_url: str) -> AbstractContextManager[LogStore]:
    """The replay tools' read access to the events of `database_url`."""
    return LogStore.open(DatabaseURL.parse(database_url))


@pytest.fixture
def replay(database_url: str) -> Replay:
    """Run `ledger-replay ARGS...` against the test database; returns the click Result."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        environment = {"LEDGER_DATABASE_URL": database_url, **(env or {})}
        return runner.invoke(app, list(args), env=environment, catch_exceptions=False)

    return run


@contextmanager
def raw_sql(database_url: str) -> Iterator[Callable[..., Any]]:
    """`execute(sql, params)` on the database, autocommit, `?` placeholders on both backends."""
    url = DatabaseURL.parse(database_url)
    if url.is_postgres:
        with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{url.schema}"')
            yield lambda q, p=(): _rows(conn.execute(q.replace("?", "%s"), p))
        return
    lite = sqlite3.connect(str(url.path), isolation_level=None)
    try:
        yield lambda q, p=(): _rows(lite.execute(q, p))
    finally:
        lite.close()


def _rows(cursor: Any) -> list[Any]:
    return list(cursor.fetchall()) if cursor.description else []
