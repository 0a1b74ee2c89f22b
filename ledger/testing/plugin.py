"""The pytest plugin of the testing kit (entry point `pytest11`: `session_ledger`).

Fixtures, all named `ledger_*`:
* `ledger_database_url` (session): a factory of fresh, empty database URLs: SQLite files in a
  temporary folder, or a new schema per call on the PostgreSQL server given by
  `--ledger-postgres-url` (or `LEDGER_TEST_POSTGRES_URL`), dropped at the end of the session;
* `ledger_sandboxes` (session): `with ledger_sandboxes() as sandbox:` a throw-away ledger on a
  fresh database, for hypothesis tests (one per example);
* `ledger_sandbox` (function): one throw-away ledger for a plain test;
* `ledger_client` (function): an HTTP client of the sandbox's app;
* `ledger_tokens` (function): the sandbox's token minter (`.headers("sessions:ingest")`).
Importing this module imports neither hypothesis nor the ledger (they load when a fixture is
first used), and registers nothing but the option and the fixtures.
Tests: tests/testing_kit/test_plugin.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from ledger.testing.sandbox import Sandbox, TokenMinter

URL_OPTION = "--ledger-postgres-url"
URL_VARIABLE = "LEDGER_TEST_POSTGRES_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--ledger-postgres-url`: run the kit's throw-away ledgers on this PostgreSQL server."""
    parser.addoption(
        URL_OPTION,
        default=None,
        help=f"PostgreSQL URL for the session ledger's throw-away ledgers (default: ${URL_VARIABLE}"
        ", else SQLite files); each gets its own schema, dropped at the end",
    )


@pytest.fixture(scope="session")
def ledger_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty database URLs (SQLite, or a PostgreSQL schema each)."""
    server = request.config.getoption(URL_OPTION) or os.environ.get(URL_VARIABLE)
    made: list[str] = []

    def new_url() -> str:
        if not server:
            return f"sqlite:///{tmp_path_factory.mktemp('ledger')}/ledger.sqlite3"
        schema = f"kit_{uuid.uuid4().hex[:12]}"
        made.append(schema)
        return f"{server.split('?', 1)[0]}?schema={schema}"

    yield new_url
    if server and made:
        _drop_schemas(server, made)


def _drop_schemas(server: str, schemas: list[str]) -> None:
    import psycopg
    from psycopg import sql

    from ledger.persistence.url import DatabaseURL

    url = DatabaseURL.parse(server.split("?", 1)[0], setting=URL_OPTION)
    with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="session")
def ledger_sandboxes(
    ledger_database_url: Callable[[], str],
) -> Callable[..., AbstractContextManager[Sandbox]]:
    """`with ledger_sandboxes(**settings) as sandbox:` a throw-away ledger, closed on exit."""
    from ledger.testing.sandbox import open_sandbox

    def make(**overrides: Any) -> AbstractContextManager[Sandbox]:
        return open_sandbox(ledger_database_url(), **overrides)

    return make


@pytest.fixture
def ledger_sandbox(
    ledger_sandboxes: Callable[..., AbstractContextManager[Sandbox]],
) -> Iterator[Sandbox]:
    """One throw-away ledger (projections running, a manual clock) for this test."""
    with ledger_sandboxes() as sandbox:
        yield sandbox


@pytest.fixture
def ledger_client(ledger_sandbox: Sandbox) -> TestClient:
    """An HTTP client of the real app serving `ledger_sandbox`."""
    return ledger_sandbox.client


@pytest.fixture
def ledger_tokens(ledger_sandbox: Sandbox) -> TokenMinter:
    """Mints tokens `ledger_client` accepts: `ledger_tokens.headers("sessions:ingest")`."""
    return ledger_sandbox.tokens
