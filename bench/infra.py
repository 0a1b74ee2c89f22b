"""Where benchmarks run: throwaway databases, ledger settings, and a description of the machine.

PostgreSQL databases are named `ledger_bench_*` and dropped afterwards; SQLite files live in
a temporary folder. Both run with the durability the ledger itself uses (PostgreSQL server
defaults; SQLite in WAL mode with the default `synchronous`), and baselines use the same.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg

from ledger.config import Settings, load_settings
from ledger.persistence.url import DatabaseURL

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
JWT_SECRET = "bench-secret-" + "x" * 40
# The bench mints its own tokens without iss/aud, on a loopback server: the documented opt-out.
UNSAFE_ENV = {"LEDGER_UNSAFE_SKIP_ISSUER_AUDIENCE": "true"}
TENANT = "bench"


def admin() -> DatabaseURL:
    """The server's maintenance database (where databases are created and dropped)."""
    return DatabaseURL.parse(ADMIN_URL, setting="BENCH_POSTGRES_URL")


def url_text(url: DatabaseURL) -> str:
    """A `DatabaseURL` written back as a URL string."""
    if url.kind == "sqlite":
        return f"sqlite:///{url.path}"
    auth = url.user + (f":{url.password}" if url.password else "")
    return f"postgresql://{auth}@{url.host}:{url.port}/{url.dbname}"


def postgres_available() -> bool:
    """True when the benchmark server answers."""
    try:
        with psycopg.connect(**admin().conninfo(), connect_timeout=3, autocommit=True):
            return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def database(kind: str, tag: str) -> Iterator[DatabaseURL]:
    """A fresh, empty database of `kind` ("postgresql" or "sqlite"), removed afterwards."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix=f"ledger_bench_{tag}_"))
        try:
            yield DatabaseURL(kind="sqlite", path=folder / "ledger.sqlite3")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    base = admin()
    name = f"ledger_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(**base.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield DatabaseURL(
            kind="postgresql",
            host=base.host,
            port=base.port,
            user=base.user,
            password=base.password,
            dbname=name,
        )
    finally:
        with psycopg.connect(**base.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings(url: DatabaseURL, **overrides: Any) -> Settings:
    """Ledger settings on `url` (the service defaults unless overridden)."""
    values: dict[str, Any] = {
        "database_url": url_text(url),
        "jwt_secret": JWT_SECRET,
        "unsafe_skip_issuer_audience": True,
    }
    values.update(overrides)
    return load_settings(**values)


def settle(url: DatabaseURL) -> None:
    """After a bulk seed: VACUUM ANALYZE on PostgreSQL (what autovacuum does in a live store).

    SQLite gets nothing: the ledger never runs ANALYZE there, so neither does the benchmark.
    """
    if url.is_postgres:
        with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


def store_size(url: DatabaseURL) -> int:
    """Bytes the database takes on disk (SQLite: file plus WAL)."""
    if url.kind == "sqlite":
        assert url.path is not None
        files = [url.path, Path(f"{url.path}-wal")]
        return sum(f.stat().st_size for f in files if f.exists())
    with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else 0


def human_bytes(size: int) -> str:
    """1234567 -> '1.2 MB'."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def sqlite_durability() -> str:
    """Journal mode and `synchronous` of a WAL connection as the library opens one."""
    folder = Path(tempfile.mkdtemp(prefix="ledger_bench_probe_"))
    try:
        with contextlib.closing(sqlite3.connect(folder / "probe.sqlite3")) as conn:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            level = int(conn.execute("PRAGMA synchronous").fetchone()[0])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={mode}, synchronous={names.get(level, level)} (the ledger sets none)"


def machine() -> dict[str, Any]:
    """Cores, memory, CPU, database versions and durability settings, load at start."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlite_durability": sqlite_durability(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(meminfo.split("MemTotal:")[1].split()[0])
        info["memory_gb"] = round(kb / 1024 / 1024, 1)
    with contextlib.suppress(OSError, IndexError):
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = cpuinfo.split("model name")[1].split(":", 1)[1].splitlines()[0].strip()
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(**admin().conninfo(), autocommit=True, connect_timeout=3) as conn,
    ):
        for key in ("server_version", "synchronous_commit", "fsync", "wal_sync_method"):
            row = conn.execute(f"SHOW {key}").fetchone()
            info[f"postgres_{key}"] = row[0] if row else None
    return info
