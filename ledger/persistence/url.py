"""Database URLs: `sqlite:///relative/path`, `sqlite:////absolute/path` or
`postgresql://user[:password]@host[:port]/db[?schema=name]`, turned into the library's
environment. Tests: tests/unit/test_url_and_config.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import ConfigError

_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed, validated database URL."""

    kind: Literal["sqlite", "postgresql"]
    path: Path | None = None
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    dbname: str = ""
    schema: str = "public"
    # How long PostgreSQL pools wait, retry and connect (`ledger.persistence.pools`); the
    # settings fill them in (`Settings.events_url`), parsing leaves the defaults.
    pool_wait_s: float = 1.0
    reconnect_s: float = 2.0
    connect_timeout_s: int = 2

    @classmethod
    def parse(cls, url: str, *, setting: str = "LEDGER_DATABASE_URL") -> DatabaseURL:
        """Parse `url` or raise ConfigError naming `setting`."""
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(setting, "is empty")
        url = url.strip()
        if url.startswith("sqlite:"):
            return cls._parse_sqlite(url, setting)
        if url.startswith(("postgresql:", "postgres:")):
            return cls._parse_postgres(url, setting)
        scheme = url.split(":", 1)[0] if ":" in url else url
        raise ConfigError(
            setting, f"unsupported scheme {scheme!r}; use sqlite:///path or postgresql://..."
        )

    @classmethod
    def _parse_sqlite(cls, url: str, setting: str) -> DatabaseURL:
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError(setting, f"malformed SQLite URL {url!r}; use sqlite:///path/file")
        raw = unquote(url[len("sqlite:///") :])
        if "?" in raw or ":memory:" in raw:
            raise ConfigError(setting, "SQLite URLs take a file path only (no query, no memory)")
        return cls(kind="sqlite", path=Path(raw))

    @classmethod
    def _parse_postgres(cls, url: str, setting: str) -> DatabaseURL:
        try:
            parts = urlsplit(url)
            port = parts.port or 5432
        except ValueError as e:
            raise ConfigError(setting, f"malformed PostgreSQL URL ({e})") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname or "/" in dbname:
            raise ConfigError(
                setting, "malformed PostgreSQL URL; use postgresql://user@host:5432/dbname"
            )
        query = parse_qs(parts.query)
        unknown = set(query) - {"schema"}
        if unknown:
            raise ConfigError(setting, f"unknown URL parameter(s): {', '.join(sorted(unknown))}")
        schema = query.get("schema", ["public"])[0]
        if not _SCHEMA_RE.match(schema):
            raise ConfigError(setting, f"invalid schema name {schema!r}")
        return cls(
            kind="postgresql",
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            dbname=dbname,
            schema=schema,
        )

    @property
    def is_postgres(self) -> bool:
        """True for a PostgreSQL URL."""
        return self.kind == "postgresql"

    def redacted(self) -> str:
        """The URL without its password, for messages and logs."""
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        suffix = "" if self.schema == "public" else f"?schema={self.schema}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}{suffix}"

    def dsn(self) -> str:
        """A libpq connection string (what `psycopg.connect` takes)."""
        from psycopg.conninfo import make_conninfo  # noqa: PLC0415

        return make_conninfo(**self.conninfo())

    def conninfo(self) -> dict[str, Any]:
        """psycopg connection keyword arguments (`psycopg.connect(**url.conninfo())`)."""
        info: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password:
            info["password"] = self.password
        return info

    def library_env(
        self, *, pool_size: int = 1, max_overflow: int = 4, lock_timeout_s: int = 10
    ) -> dict[str, str]:
        """The `eventsourcing` environment for this database, with the ledger's recorders.

        On PostgreSQL `pool_size` connections stay open; up to `max_overflow` more are opened
        under load and closed again when idle, so an idle ledger holds few connections.
        """
        if self.kind == "sqlite":
            assert self.path is not None
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.path),
                "SQLITE_LOCK_TIMEOUT": str(lock_timeout_s),
                "APPLICATION_RECORDER_TOPIC": (
                    "ledger.persistence.sqlite:LedgerSQLiteApplicationRecorder"
                ),
            }
        return {
            "PERSISTENCE_MODULE": "ledger.persistence.pools:LedgerPostgresFactory",
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": self.schema,
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, round(self.pool_wait_s))),
            "LEDGER_POOL_WAIT_S": str(self.pool_wait_s),
            "LEDGER_RECONNECT_S": str(self.reconnect_s),
            "LEDGER_CONNECT_TIMEOUT_S": str(self.connect_timeout_s),
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(max_overflow),
            "POSTGRES_LOCK_TIMEOUT": str(lock_timeout_s),
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
            "APPLICATION_RECORDER_TOPIC": (
                "ledger.persistence.postgres:LedgerPostgresApplicationRecorder"
            ),
        }
