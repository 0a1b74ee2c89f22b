"""A throw-away PostgreSQL cluster for fault tests: Debian's `initdb` and `pg_ctl`, run as the
`postgres` OS user (the tests run as root), in a temporary folder, on a free port. Never the
machine's main cluster: only this cluster is stopped, restarted or killed."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psycopg


def initdb_binary() -> Path | None:
    """The newest `initdb` of Debian's PostgreSQL packages, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]) if found else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Cluster:
    """One PostgreSQL cluster in `folder`, listening on 127.0.0.1:`port` (trust auth)."""

    def __init__(self, folder: Path, *, bindir: Path) -> None:
        self.folder, self.bindir = folder, bindir
        self.data = folder / "data"
        self.port = free_port()
        self.log = folder / "postgres.log"

    @property
    def url(self) -> str:
        """The `ledger` database's URL."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/ledger"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def create(self) -> None:
        """initdb, start, and create the `ledger` database."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        conf = self.data / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\nfsync = off\n"
                "max_connections = 200\nshared_buffers = 16MB\n"
            )
        self.start()
        with psycopg.connect(self.admin_dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE ledger")

    def admin_dsn(self) -> str:
        """The `postgres` database (for administration)."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"

    def start(self) -> None:
        """Start (unless running) and wait until it accepts connections."""
        if self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0:
            return
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop (`fast` or `immediate`)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        """Restart; `immediate` kills every backend without a checkpoint (a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "restart")

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until a connection succeeds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_dsn()):
                    return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def destroy(self) -> None:
        """Stop at once and remove the folder."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
