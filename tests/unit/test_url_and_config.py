"""Database URLs and settings: parsed once, refused with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import load_settings
from ledger.errors import ConfigError
from ledger.persistence.url import DatabaseURL


def test_sqlite_urls_take_relative_and_absolute_paths() -> None:
    assert DatabaseURL.parse("sqlite:///var/ledger.sqlite3").path == Path("var/ledger.sqlite3")
    assert DatabaseURL.parse("sqlite:////srv/l.db").path == Path("/srv/l.db")


def test_postgres_urls_carry_credentials_port_and_schema() -> None:
    url = DatabaseURL.parse("postgresql://ops:p%40ss@db.example:6543/ledger?schema=tenant_a")
    assert (url.user, url.password, url.host, url.port, url.dbname, url.schema) == (
        "ops",
        "p@ss",
        "db.example",
        6543,
        "ledger",
        "tenant_a",
    )
    assert url.redacted() == "postgresql://ops@db.example:6543/ledger?schema=tenant_a"
    assert "p@ss" not in url.redacted()
    env = url.library_env()
    assert env["POSTGRES_SCHEMA"] == "tenant_a" and env["POSTGRES_PASSWORD"] == "p@ss"
    assert env["APPLICATION_RECORDER_TOPIC"].endswith("LedgerPostgresApplicationRecorder")


def test_the_embedded_default_is_sqlite_under_var() -> None:
    settings = load_settings()
    assert settings.events_url.kind == "sqlite"
    assert settings.views_url == settings.events_url


def test_views_may_live_in_another_database() -> None:
    settings = load_settings(views_database_url="sqlite:///var/views.sqlite3")
    assert settings.views_url.path == Path("var/views.sqlite3")


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_secret": "too-short"}, "LEDGER_JWT_SECRET"),
        ({"consistency_timeout_s": 0}, "LEDGER_CONSISTENCY_TIMEOUT_S"),
        ({"activity_granularity_s": -1}, "LEDGER_ACTIVITY_GRANULARITY_S"),
        ({"jwks_url": "http://idp.example/jwks"}, "LEDGER_JWKS_URL"),
        ({"views_database_url": "nope://"}, "LEDGER_VIEWS_DATABASE_URL"),
    ],
)
def test_unsafe_or_invalid_settings_refuse_to_start(
    overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(**overrides)
    assert str(raised.value).startswith(f"{variable}: ")


def test_settings_come_from_ledger_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_ACTIVITY_GRANULARITY_S", "15")
    monkeypatch.setenv("LEDGER_DATABASE_URL", "sqlite:///x/y.db")
    settings = load_settings()
    assert settings.activity_granularity_s == 15
    assert settings.events_url.path == Path("x/y.db")


def test_a_misspelt_ledger_variable_stops_the_ledger_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_DATABSE_URL", "sqlite:///elsewhere.db")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert refused.value.setting == "LEDGER_DATABSE_URL"
    assert "did you mean LEDGER_DATABASE_URL?" in str(refused.value)


def test_test_suite_variables_are_not_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_TEST_ANYTHING", "1")
    assert load_settings().database_url == "sqlite:///var/ledger.sqlite3"


def test_settings_refuse_unknown_fields() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(databse_url="sqlite:///x.db")
    assert refused.value.setting == "LEDGER_DATABSE_URL"
