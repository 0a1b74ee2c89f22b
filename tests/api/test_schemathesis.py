"""schemathesis over the OpenAPI document: no 5xx, every response matches the schema."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode

from ledger.api.app import create_app
from ledger.api.tokens import mint_token
from ledger.bootstrap import bootstrap
from ledger.config import Settings, load_settings
from ledger.persistence.url import DatabaseURL
from tests.api.conftest import ALL_SCOPES, AUDIENCE, ISSUER, SECRET

# `make fuzz` sets LEDGER_TEST_FUZZ_EXAMPLES for a longer, randomised run.
EXAMPLES = int(os.environ.get("LEDGER_TEST_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="LEDGER_TEST_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# The v1 API, the web pages' JSON endpoints and the ops endpoints.
OURS = re.compile(r"^/(v1/|web/|healthz$|readyz$|metrics$)")


def fuzz_settings(database_url: str, jwks_file: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        jwt_secret=SECRET,
        jwks_file=jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        group_commit=False,
        reaper_interval_s=3600,
    )


def operations() -> list[tuple[str, str]]:
    """(method, path) of every operation of ours in the OpenAPI document (no database)."""
    config = load_settings(database_url="sqlite:///unused", jwt_secret=SECRET)
    document = create_app(config).openapi()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if OURS.match(path)
        for method in item
    ]


def served_schema(config: Settings) -> Iterator[Any]:
    """The loaded schema of the app on a bootstrapped ledger, its lifespan started."""
    system = bootstrap(config, run_projections=True)
    try:
        app = create_app(config, system=system)
        with TestClient(app):
            schema = schemathesis.openapi.from_dict(app.openapi())
            schema.app = app
            yield schema
    finally:
        system.close()


@pytest.fixture(scope="module")
def sqlite_schema(tmp_path_factory: pytest.TempPathFactory, jwks_file: Path) -> Iterator[Any]:
    """The app's schema, served on SQLite."""
    path = tmp_path_factory.mktemp("fuzz") / "ledger.sqlite3"
    yield from served_schema(fuzz_settings(f"sqlite:///{path}", jwks_file))


@pytest.fixture(scope="module")
def postgres_schema(postgres_database: DatabaseURL | None, jwks_file: Path) -> Iterator[Any]:
    """The app's schema, served on PostgreSQL."""
    if postgres_database is None:
        pytest.skip("PostgreSQL not configured (set LEDGER_TEST_POSTGRES_URL)")
    db = postgres_database
    url = f"postgresql://{db.user}@{db.host}:{db.port}/{db.dbname}?schema=fuzz"
    yield from served_schema(fuzz_settings(url, jwks_file))


def fuzz(schema: Any, method: str, path: str) -> None:
    """Send schema-valid and schema-violating requests with a token of every scope.

    `positive_data_acceptance` is left out: opaque cursors, signed logout tokens, and times
    within the allowed skew are valid only in ways a schema cannot say (they answer 422/400).
    """
    operation = schema[path][method]
    config = schema.app.state.ledger.settings
    token = mint_token(config, sub="fuzzer", scope=ALL_SCOPES, tenant="fuzz", sid="s1", ttl=3600)
    auth = {"Authorization": f"Bearer {token}"}
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, headers=auth),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=auth),
    )

    @FUZZ
    @given(case=cases)
    def run(case: Any) -> None:
        case.call_and_validate(
            headers=auth,
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )

    run()


@pytest.mark.parametrize(("method", "path"), operations())
def test_the_api_honours_its_schema_on_sqlite(sqlite_schema: Any, method: str, path: str) -> None:
    fuzz(sqlite_schema, method, path)


@pytest.mark.postgres
@pytest.mark.parametrize(("method", "path"), operations())
def test_the_api_honours_its_schema_on_postgres(
    postgres_schema: Any, method: str, path: str
) -> None:
    fuzz(postgres_schema, method, path)
