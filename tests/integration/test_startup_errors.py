"""Bad configuration and unusable databases give one line naming the setting."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ledger.bootstrap import bootstrap
from ledger.config import Settings, load_settings
from ledger.errors import ConfigError
from ledger.persistence.url import DatabaseURL


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x/y", "unsupported scheme 'mysql'"),
        ("sqlite:", "malformed SQLite URL"),
        ("sqlite:///:memory:", "file path only"),
        ("postgresql://host-only", "malformed PostgreSQL URL"),
        ("postgresql://u@h:notaport/db", "malformed PostgreSQL URL"),
        ("postgresql://u@h/db?schema=Bad-Name", "invalid schema name"),
        ("postgresql://u@h/db?sslmode=x", "unknown URL parameter"),
    ],
)
def test_a_malformed_url_names_the_setting(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(database_url=url)
    assert str(raised.value).startswith("LEDGER_DATABASE_URL: ")
    assert "\n" not in str(raised.value)


def test_an_unreachable_server_names_the_setting_and_the_address() -> None:
    settings = load_settings(database_url="postgresql://ledger@127.0.0.1:1/nowhere")
    with pytest.raises(ConfigError, match=r"LEDGER_DATABASE_URL: cannot connect to .*:1/nowhere"):
        bootstrap(settings, run_projections=False)


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("this is not a database\n" * 100)
    settings = load_settings(database_url=f"sqlite:///{path}")
    with pytest.raises(ConfigError, match="not a usable SQLite database"):
        bootstrap(settings, run_projections=False)


def test_the_sqlite_folder_is_created_on_first_use(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/deep/er/ledger.sqlite3")
    bootstrap(settings, run_projections=False).close()
    assert (tmp_path / "deep" / "er" / "ledger.sqlite3").exists()


def test_a_database_of_a_newer_schema_version_is_refused(
    make_settings: Callable[..., Settings], backend: str
) -> None:
    settings = make_settings()
    bootstrap(settings, run_projections=False).close()
    url = settings.events_url
    statement = "UPDATE {} SET value='99' WHERE key='schema_version'"
    if backend == "sqlite":
        with sqlite3.connect(str(url.path)) as conn:
            conn.execute(statement.format("ledger_meta"))
    else:
        with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
            conn.execute(statement.format(f'"{url.schema}".ledger_meta'))
    with pytest.raises(ConfigError, match="schema version 99; this ledger reads version 1"):
        bootstrap(settings, run_projections=False)


def test_a_foreign_events_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE stored_events (id INTEGER, payload TEXT)")
    with pytest.raises(ConfigError, match="did not create"):
        bootstrap(load_settings(database_url=f"sqlite:///{path}"), run_projections=False)


@pytest.mark.postgres
def test_an_insert_only_role_records_events_but_cannot_change_them(
    make_settings: Callable[..., Settings], backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("roles are a PostgreSQL matter")
    import os
    import subprocess
    import sys

    from ledger.outbound import receivers
    from ledger.outbound.runtime import build_deliverers
    from ledger.seals import seal_new_events

    owner = make_settings()
    role = f"ledger_app_{uuid.uuid4().hex[:8]}"
    url = owner.events_url
    with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    init = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "db", "init", "--grant-to", role],
        env={**os.environ, "LEDGER_DATABASE_URL": owner.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    app_url = owner.database_url.replace(f"://{url.user}@", f"://{role}@")
    app = bootstrap(make_settings(database_url=app_url), run_projections=True)
    try:
        out = app.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
        assert app.wait(out.position, timeout=15)
        assert [s.id for s in app.active.user_sessions("acme", "alice", now=app.clock())] == ["s1"]
        assert [s.count for s in seal_new_events(app.settings.events_url)] == [3]
        outbound = build_deliverers(app.settings, head=lambda: 3, run=False)  # granted tables
        store, hook = outbound.store, {"url": "x", "event_types": []}
        receivers.create(
            store, receiver_id="r", kind="webhook", tenant="acme", owner="o", config=hook,
            from_position=3,
        )  # fmt: skip
        found = receivers.find(store, tenant="acme", owner=None, kind=None)
        assert [r["receiver_id"] for r in found] == ["r"]
        outbound.stop()
    finally:
        app.close()
    role_url = DatabaseURL.parse(app_url)
    with psycopg.connect(**role_url.conninfo(), autocommit=True) as conn:
        for statement in ("UPDATE {} SET topic='x'", "DELETE FROM {}", "CREATE TABLE {}_x (a int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement.format(f'"{url.schema}".sessionledger_events'))


def test_serve_with_a_misspelt_variable_says_one_line_and_exits_2(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEDGER_DATABSE_URL": f"sqlite:///{tmp_path}/x.sqlite3"}
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "serve", "--dev", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ledger: LEDGER_DATABSE_URL: not a setting of the ledger"
        " (did you mean LEDGER_DATABASE_URL?)"
    ]
    assert not (tmp_path / "var").exists()
