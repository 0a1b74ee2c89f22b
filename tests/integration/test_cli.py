"""The `ledger` command: db init, expire, project --once, and its error messages."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from tests.seeding import seed_sessions


def ledger(settings_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LEDGER_DATABASE_URL": settings_url, **env}
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_db_init_is_idempotent_and_makes_the_seal_table(
    make_settings: Callable[..., Settings],
) -> None:
    from ledger.log_store import LogStore
    from ledger.seals import SEAL_TABLE

    settings = make_settings()
    for _ in range(2):
        result = ledger(settings.database_url, "db", "init")
        assert result.returncode == 0, result.stderr
        assert "database ready" in result.stdout
    with LogStore.open(settings.events_url) as store:
        assert store.exists(SEAL_TABLE)


def test_expire_records_due_sessions_once(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=True)
    long_ago = datetime.now(UTC) - timedelta(days=40)
    head = seed_sessions(system.ledger, count=9, users=3, start=long_ago)
    assert system.wait(head, timeout=15)
    system.close()
    first = ledger(settings.database_url, "expire")
    assert first.returncode == 0, first.stderr
    assert "expired 6 session(s)" in first.stderr
    assert first.stdout.count("idle_timeout") == 6
    again = ledger(settings.database_url, "expire")
    assert "expired 0 session(s)" in again.stderr


def test_project_once_catches_up_and_exits(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    head = seed_sessions(system.ledger, count=50, start=datetime.now(UTC))
    system.close()
    result = ledger(settings.database_url, "project", "--once")
    assert result.returncode == 0, result.stderr
    assert "caught up: True" in result.stdout
    system = bootstrap(settings, run_projections=False)
    assert system.active.max_tracking_id("SessionLedger") == head
    system.close()


def test_errors_are_one_line_with_a_non_zero_exit() -> None:
    result = ledger("postgresql://nobody@127.0.0.1:1/x", "expire")
    assert result.returncode == 2
    assert result.stderr.startswith("ledger: LEDGER_DATABASE_URL: cannot connect")
    assert "Traceback" not in result.stderr
    bad = ledger("sqlite:///tmp/x.sqlite3", "expire", LEDGER_CONSISTENCY_TIMEOUT_S="soon")
    assert bad.returncode == 2
    assert "LEDGER_CONSISTENCY_TIMEOUT_S" in bad.stderr and "Traceback" not in bad.stderr
