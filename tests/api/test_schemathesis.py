"""schemathesis over the OpenAPI document: no 5xx, every response matches the schema.

Each operation is fuzzed on its own; a stateful run then follows OpenAPI links (added to the
served document here, OpenAPI 3.1 §4.8.20) from a start to the lists and the terminations, so
that requests carry ids of sessions that really exist: start -> list -> terminate.
"""

from __future__ import annotations

import os
import re
import uuid
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
from ledger.bootstrap import bootstrap
from ledger.config import Settings, load_settings
from ledger.keys.dev_tokens import mint_token
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
# A stream that ends only with the token or the server (tests/api/test_live.py checks it).
ENDLESS = {("GET", "/v1/events")}  # POST /v1/events, the batch, is fuzzed


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
    config = load_settings(
        database_url="sqlite:///unused", jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    document = create_app(config).openapi()
    return [
        (method.upper(), path)
        for path, item in document["paths"].items()
        if OURS.match(path)
        for method in item
        if (method.upper(), path) not in ENDLESS
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


def fuzz_auth(config: Settings, *, tenant: str = "fuzz") -> dict[str, str]:
    """A token of every scope, without `sid` (a token naming no live session is refused)."""
    token = mint_token(config, sub="fuzzer", scope=ALL_SCOPES, tenant=tenant, ttl=3600)
    return {"Authorization": f"Bearer {token}"}


def fuzz(schema: Any, method: str, path: str) -> None:
    """Send schema-valid and schema-violating requests with a token of every scope.

    `positive_data_acceptance` is left out: opaque cursors, signed logout tokens, and times
    within the allowed skew are valid only in ways a schema cannot say (they answer 422/400).
    """
    operation = schema[path][method]
    config = schema.app.state.ledger.settings
    auth = fuzz_auth(config)
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


START, USER = "/v1/sessions", "/v1/users/{user_id}/sessions"
ONE = "/v1/users/{user_id}/sessions/{session_id}"
REPORT = "/v1/sessions/{session_id}/terminate"


def with_links(document: dict[str, Any]) -> dict[str, Any]:
    """The document with links start -> list/terminate and list -> terminate."""
    paths = document["paths"]

    def link(path: str, method: str, **parameters: str) -> dict[str, Any]:
        return {"operationId": paths[path][method]["operationId"], "parameters": parameters}

    started = {"user_id": "$response.body#/user_id", "session_id": "$response.body#/id"}
    listed = {
        "user_id": "$response.body#/sessions/0/user_id",
        "session_id": "$response.body#/sessions/0/id",
    }
    paths[START]["post"]["responses"]["201"]["links"] = {
        "ListUserSessions": link(USER, "get", user_id=started["user_id"]),
        "TerminateUserSession": link(ONE, "delete", **started),
        "ReportTermination": link(REPORT, "post", session_id=started["session_id"]),
    }
    paths[USER]["get"]["responses"]["200"]["links"] = {
        "TerminateListedSession": link(ONE, "delete", **listed),
    }
    return document


@pytest.fixture(scope="module")
def linked_schema(tmp_path_factory: pytest.TempPathFactory, jwks_file: Path) -> Iterator[Any]:
    """The app on SQLite, its document carrying the links."""
    path = tmp_path_factory.mktemp("stateful") / "ledger.sqlite3"
    config = fuzz_settings(f"sqlite:///{path}", jwks_file)
    system = bootstrap(config, run_projections=True)
    try:
        app = create_app(config, system=system)
        with TestClient(app):
            schema = schemathesis.openapi.from_dict(with_links(app.openapi()))
            schema.app = app
            yield schema
    finally:
        system.close()


def test_a_stateful_walk_starts_lists_and_terminates_real_sessions(linked_schema: Any) -> None:
    """A random walk following the links: every step answers as documented, none fails."""
    config = linked_schema.app.state.ledger.settings
    calls: list[tuple[str, str, int]] = []

    class Walk(linked_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            super().setup()  # each example in an empty tenant: a replay meets the same state
            self.auth = fuzz_auth(config, tenant=f"walk-{uuid.uuid4().hex[:12]}")

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": self.auth}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            calls.append((case.method, case.path, response.status_code))

        def validate_response(self, response: Any, case: Any, *_: Any, **__: Any) -> None:
            case.validate_response(  # acceptance of single requests: the fuzz above
                response,
                headers=self.auth,
                excluded_checks=[
                    schemathesis.checks.positive_data_acceptance,
                    schemathesis.checks.negative_data_rejection,
                ],
                recorder=self.recorder,
            )

    Walk.run(
        settings=settings(
            max_examples=max(EXAMPLES, 60),
            stateful_step_count=8,
            deadline=None,
            derandomize="LEDGER_FUZZ_EXAMPLES" not in os.environ,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert ("POST", START, 201) in calls
    assert ("GET", USER, 200) in calls
    # Which links a walk follows depends on its draws (CI's walks once reached no linked
    # DELETE); what the links promise is checked by following each of them once, below.
    assert {status for method, path, status in calls if path == ONE} <= {204, 404, 409, 422}


def pointer(expression: str, body: Any) -> Any:
    """The value a link's `$response.body#/a/0/b` names in `body`."""
    value = body
    for part in expression.split("#/", 1)[1].split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def test_every_link_names_a_real_session_it_can_terminate(linked_schema: Any) -> None:
    """Start -> terminate, and start -> list -> terminate: each link's ids reach a session (204)."""
    document = linked_schema.raw_schema
    config = linked_schema.app.state.ledger.settings
    auth = fuzz_auth(config, tenant=f"links-{uuid.uuid4().hex[:12]}")
    start_links = document["paths"][START]["post"]["responses"]["201"]["links"]
    list_links = document["paths"][USER]["get"]["responses"]["200"]["links"]
    with TestClient(linked_schema.app) as client:  # a client of its own, started

        def start(session_id: str) -> Any:
            body = {"session_id": session_id, "user_id": "alice", "ip": "203.0.113.7"}
            answer = client.post(START, json=body, headers=auth)
            assert answer.status_code == 201, answer.text
            return answer.json()

        started = start("s-direct")
        ids = start_links["TerminateUserSession"]["parameters"]
        path = ONE.format(**{name: pointer(expr, started) for name, expr in ids.items()})
        assert client.delete(path, headers=auth).status_code == 204

        started = start("s-listed")
        user = pointer(start_links["ListUserSessions"]["parameters"]["user_id"], started)
        listed = client.get(USER.format(user_id=user), headers=auth)
        assert listed.status_code == 200
        ids = list_links["TerminateListedSession"]["parameters"]
        path = ONE.format(**{name: pointer(expr, listed.json()) for name, expr in ids.items()})
        assert path.endswith("/s-listed")
        assert client.delete(path, headers=auth).status_code == 204
        assert client.get(USER.format(user_id=user), headers=auth).json()["sessions"] == []
