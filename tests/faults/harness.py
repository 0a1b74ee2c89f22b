"""The ledger as a real process (`ledger serve`), concurrent clients through its HTTP API, and
checks with the replay tools: what the fault tests drive and measure."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from typer.testing import CliRunner

from replay_tools.cli import app as replay_app
from tests.faults.cluster import free_port

SECRET = "fault-tests-secret-" + "x" * 40
ISSUER, AUDIENCE = "https://idp.faults.test", "session-ledger"
HANG_BOUND_S = 2.0 + 1.5
"""The goal is an answer within 2 s; the margin absorbs a busy shared machine. A bound on a
hang, not a benchmark."""


def token(scope: str, sub: str = "fault-idp") -> str:
    """A signed access token the ledger under test accepts."""
    now = int(time.time())
    claims = {"sub": sub, "scope": scope, "tenant": "acme", "iss": ISSUER, "aud": AUDIENCE,
              "iat": now, "exp": now + 3600, "jti": uuid.uuid4().hex}  # fmt: skip
    return jwt.encode(claims, SECRET, algorithm="HS256")


def ledger_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a ledger process on `database_url`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_DATABASE_URL": database_url, "LEDGER_JWT_SECRET": SECRET,
            "LEDGER_JWT_ISSUER": ISSUER, "LEDGER_JWT_AUDIENCE": AUDIENCE,
            "LEDGER_GROUP_COMMIT": "true", "LEDGER_SEAL_INTERVAL_S": "3600"}  # fmt: skip
    return env | extra


class LedgerProcess:
    """`ledger serve` in a child process, on a free port."""

    def __init__(self, database_url: str, log: Path, **extra: str) -> None:
        self.env = ledger_env(database_url, **extra)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        """Start and wait until `/readyz` is 200."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"ledger exited: {self.log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"ledger not ready in {timeout} s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@dataclass
class Answer:
    """One request: when it was sent, how long it took, what came back."""

    session_id: str
    sent: float
    elapsed: float
    status: int  # 0: no HTTP answer (connection refused or reset)
    content_type: str = ""
    retry_after: str | None = None
    detail: str = ""


@dataclass
class Load:
    """Client threads starting sessions through the API until stopped."""

    base: str
    clients: int = 4
    answers: list[Answer] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def start(self) -> Load:
        """Start the clients."""
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop the clients and wait for their last requests."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _client(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {token('sessions:ingest')}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=60) as client:
            i = 0
            while not self._stop.is_set():
                session_id = f"{self.run_id}-{n}-{i}"
                self.answers.append(start_session(client, session_id, user=f"u{i % 7}"))
                i += 1
                if self.answers[-1].status != 201:
                    time.sleep(0.05)

    def acknowledged(self) -> set[str]:
        """The sessions answered 2xx."""
        return {a.session_id for a in self.answers if 200 <= a.status < 300}

    def between(self, start: float, end: float) -> list[Answer]:
        """The requests sent in [start, end]."""
        return [a for a in self.answers if start <= a.sent <= end]


def start_session(client: httpx.Client, session_id: str, *, user: str) -> Answer:
    """POST /v1/sessions, timed."""
    sent = time.monotonic()
    body = {"session_id": session_id, "user_id": user, "ip": "203.0.113.7"}
    try:
        response = client.post("/v1/sessions", json=body)
    except httpx.HTTPError:
        return Answer(session_id, sent, time.monotonic() - sent, 0)
    elapsed = time.monotonic() - sent
    detail = ""
    if response.status_code >= 400:
        detail = str(response.json().get("detail", ""))
    return Answer(
        session_id, sent, elapsed, response.status_code,
        response.headers.get("content-type", ""), response.headers.get("retry-after"), detail,
    )  # fmt: skip


@dataclass
class Probe:
    """One `/readyz` or `/healthz` call."""

    sent: float
    elapsed: float
    status: int


class Prober:
    """Polls a probe endpoint every `interval` seconds in a thread."""

    def __init__(self, url: str, interval: float = 0.1) -> None:
        self.url, self.interval = url, interval
        self.probes: list[Probe] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Prober:
        """Start polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.wait(self.interval):
                sent = time.monotonic()
                try:
                    status = client.get(self.url).status_code
                except httpx.HTTPError:
                    status = 0
                self.probes.append(Probe(sent, time.monotonic() - sent, status))

    def between(self, start: float, end: float) -> list[Probe]:
        """The probes sent in [start, end]."""
        return [p for p in self.probes if start <= p.sent <= end]


@dataclass
class Replayed:
    """What one `ledger-replay` command printed and its exit code."""

    returncode: int
    stdout: str
    output: str  # stdout and stderr


def replay(database_url: str, *args: str) -> Replayed:
    """`ledger-replay ARGS` on `database_url` (the very command, in this process: no start-up)."""
    env = {"LEDGER_DATABASE_URL": database_url}
    done = CliRunner().invoke(replay_app, list(args), env=env, catch_exceptions=False)
    return Replayed(done.exit_code, done.stdout, done.output)


def logged_sessions(database_url: str) -> set[str]:
    """Every session whose start is in the log (read with `ledger-replay export`)."""
    done = replay(database_url, "export", "--format", "jsonl", "--tenant", "acme")
    assert done.returncode == 0, done.output
    events: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines() if line]
    return {e["session_id"] for e in events if e["event"] == "Session.Started"}


def verify(database_url: str) -> None:
    """`ledger-replay verify` passes: the views equal a rebuild from the log."""
    done = replay(database_url, "verify")
    assert done.returncode == 0, done.output
    assert "active_sessions: identical" in done.output, done.output


def read_your_write(base: str, session_id: str) -> None:
    """A session started now is in the views when the start is answered."""
    ingest = {"Authorization": f"Bearer {token('sessions:ingest')}"}
    read = {"Authorization": f"Bearer {token('sessions:read', sub='fault-admin')}"}
    with httpx.Client(base_url=base, headers=ingest, timeout=30) as client:
        answer = start_session(client, session_id, user="ryw")
        assert answer.status == 201, answer
        listed = client.get("/v1/users/ryw/sessions", headers=read)
        assert listed.status_code == 200, listed.text
        assert session_id in {s["id"] for s in listed.json()["sessions"]}
