"""The ledger process killed mid-load, and its SQLite disk filling up, under concurrent load
through the HTTP API (a real `ledger serve` process):

* SIGKILL mid-load (on SQLite here; on PostgreSQL in test_postgres_faults.py): after a
  restart every start answered 201 is in the log (`ledger-replay export`) and in the views
  (`ledger-replay verify` passes), and a new start is read back at once;
* a full disk under the SQLite file (a small tmpfs mounted for the test; skipped, saying
  why, where mounting is not allowed): writes are answered 507 problems naming the full disk,
  within a bounded time, `/readyz` is 503; once space returns, writes succeed again without a
  restart, nothing acknowledged is lost and the file passes `PRAGMA integrity_check`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import StartLedger
from tests.faults.harness import (
    HANG_BOUND_S,
    Load,
    logged_sessions,
    read_your_write,
    verify,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def kill_mid_load(url: str, start_ledger: StartLedger) -> set[str]:
    """Serve `url`, SIGKILL the ledger mid-load, serve it again; the starts acknowledged."""
    ledger = start_ledger(url)
    load = Load(ledger.base).start()
    time.sleep(1.5)
    ledger.kill()
    load.stop()
    acknowledged = load.acknowledged()
    assert acknowledged, "nothing was acknowledged before the kill"
    assert any(a.status == 0 for a in load.answers), "the kill must land mid-load"
    restarted = start_ledger(url)
    read_your_write(restarted.base, "after-kill")
    return acknowledged


def test_a_ledger_killed_mid_load_on_sqlite_loses_no_acknowledged_start(
    sqlite_url: str, start_ledger: StartLedger
) -> None:
    acknowledged = kill_mid_load(sqlite_url, start_ledger)
    assert acknowledged <= logged_sessions(sqlite_url)
    verify(sqlite_url)
    # on PostgreSQL: test_postgres_faults.py, after its immediate restart (one ledger less)


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MiB tmpfs, mounted for the test (root only)."""
    folder = Path(tempfile.mkdtemp(prefix="ledger-small-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)
    folder.rmdir()


def fill(folder: Path) -> Path:
    """Write a file until the filesystem is full; the file."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # to the last byte
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
    finally:
        os.close(fd)
    return filler


def test_a_full_sqlite_disk_is_a_507_and_writes_resume_when_space_returns(
    small_disk: Path, start_ledger: StartLedger
) -> None:
    url = f"sqlite:///{small_disk}/ledger.sqlite3"
    ledger = start_ledger(url)
    for n in range(3):  # acknowledged before the disk fills (the log's own growth stays small)
        read_your_write(ledger.base, f"before-full-{n}")
    filler = fill(small_disk)
    load = Load(ledger.base, clients=2).start()
    full = time.monotonic()
    # SQLite writes on into its write-ahead log's free space, then refuses
    while not any(a.status != 201 for a in load.between(full, time.monotonic())):
        assert time.monotonic() - full < 30, "writes never failed on a full disk"
        time.sleep(0.1)
    time.sleep(1.5)
    ready = httpx.get(f"{ledger.base}/readyz", timeout=30)
    filler.unlink()
    freed = time.monotonic()
    time.sleep(2.0)
    load.stop()

    refused = [a for a in load.between(full + 0.5, freed) if a.status != 201]
    assert refused, "no write was refused while the disk was full"
    for answer in refused:
        assert answer.status == 507, answer
        assert answer.detail.startswith("the database's disk is full"), answer
        assert answer.retry_after is not None, answer
        assert answer.elapsed <= HANG_BOUND_S, answer
    assert ready.status_code == 503
    assert ready.json()["detail"].startswith("the database's disk is full")
    assert any(a.status == 201 for a in load.between(freed, freed + 2.0)), "no recovery"
    assert httpx.get(f"{ledger.base}/readyz", timeout=30).status_code == 200
    read_your_write(ledger.base, "after-disk-full")
    assert load.acknowledged() | {f"before-full-{n}" for n in range(3)} <= logged_sessions(url)
    verify(url)
    with contextlib.closing(sqlite3.connect(small_disk / "ledger.sqlite3")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
