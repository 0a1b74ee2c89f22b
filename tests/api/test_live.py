"""`GET /v1/events`: live session starts and ends over a real HTTP server (uvicorn, a thread).

Streams are read as a browser reads them (chunked `text/event-stream`); each test checks what
a stream must show and what it must not: another tenant's sessions, another user's for a
`sessions:me` token. A reconnect with `Last-Event-ID` gets what it missed. A real
`ledger serve` with a stream open stops promptly on SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from ledger.bootstrap import LedgerSystem
from ledger.config import Settings
from tests.api.conftest import Minter
from tests.api.test_serve import free_port

DAY = {"idle_timeout_s": 86_400, "max_lifetime_s": 172_800}


@pytest.fixture
def live_url(api_settings: Settings, api_system: LedgerSystem) -> Iterator[str]:
    """The app serving `api_system` under uvicorn on a free port, in a thread."""
    from ledger.api.app import create_app

    port = free_port()
    config = uvicorn.Config(
        create_app(api_settings, system=api_system), port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "uvicorn did not stop"


class Stream:
    """An open event stream on a raw socket (HTTP/1.0: the body is the stream, unchunked),
    read in a thread into a queue of (id, event, data); `close` really closes it."""

    def __init__(self, url: str, token: str, *, last_event_id: str | None = None) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall(
            f"GET /v1/events HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers: dict[str, str] = {}
        while (line := self.file.readline().decode().strip()) != "":
            name, _, value = line.partition(":")
            self.headers[name.lower()] = value.strip()
        self.events: queue.Queue[tuple[str, str, dict[str, Any]]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "data" in fields and fields.get("event") != "ping":
                        data = orjson.loads(fields["data"])
                        self.events.put((fields.get("id", ""), fields.get("event", ""), data))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except (OSError, ValueError):
            pass

    def next(self, timeout: float = 5) -> tuple[str, str, dict[str, Any]]:
        return self.events.get(timeout=timeout)

    def quiet(self, seconds: float = 0.5) -> bool:
        """True when nothing arrives for `seconds`."""
        try:
            self.events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def post(url: str, path: str, token: str, body: dict[str, Any]) -> None:
    response = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 300, response.text


def test_an_admin_stream_shows_its_tenants_starts_and_ends_and_resumes_after_a_reconnect(
    live_url: str, hs: Minter
) -> None:
    ingest = hs.token("idp", "sessions:ingest")
    stream = Stream(live_url, hs.token("root", "sessions:read"))
    try:
        assert stream.status == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        post(live_url, "/v1/sessions", ingest, {"session_id": "s1", "user_id": "bob", **DAY})
        other = hs.token("idp", "sessions:ingest", tenant="globex")
        post(live_url, "/v1/sessions", other, {"session_id": "g1", "user_id": "bob", **DAY})
        post(live_url, "/v1/sessions/s1/terminate", ingest, {"reason": "logout"})
        first_id, kind, data = stream.next()
        assert (kind, data) == (
            "session",
            {"type": "started", "session_id": "s1", "user_id": "bob"},
        )
        _, _, data = stream.next()
        assert data == {"type": "ended", "session_id": "s1", "user_id": "bob", "reason": "logout"}
        assert stream.quiet()  # nothing of tenant globex
    finally:
        stream.close()
    post(live_url, "/v1/sessions", ingest, {"session_id": "s2", "user_id": "eve", **DAY})
    again = Stream(live_url, hs.token("root", "sessions:read"), last_event_id=first_id)
    try:
        missed = [again.next()[2], again.next()[2]]
        assert [(d["type"], d["session_id"]) for d in missed] == [
            ("ended", "s1"),
            ("started", "s2"),
        ]
    except queue.Empty:
        pytest.fail("the reconnect did not get what it missed")
    finally:
        again.close()


def test_a_users_stream_shows_only_their_own_sessions(live_url: str, hs: Minter) -> None:
    ingest = hs.token("idp", "sessions:ingest")
    stream = Stream(live_url, hs.token("alice", "sessions:me"))
    try:
        post(live_url, "/v1/sessions", ingest, {"session_id": "b1", "user_id": "bob", **DAY})
        post(live_url, "/v1/sessions", ingest, {"session_id": "a1", "user_id": "alice", **DAY})
        _, _, data = stream.next()
        assert (data["session_id"], data["type"]) == ("a1", "started")
        assert stream.quiet()
    finally:
        stream.close()


def test_a_stream_needs_read_or_me_and_a_numeric_last_event_id(live_url: str, hs: Minter) -> None:
    for scope, headers, status in [
        ("sessions:ingest", {}, 403),
        ("sessions:audit", {}, 403),
        ("sessions:read", {"Last-Event-ID": "yesterday"}, 422),
        ("sessions:read", {"Last-Event-ID": "-1"}, 422),
    ]:
        token = hs.token("root", scope)
        response = httpx.get(
            f"{live_url}/v1/events", headers={"Authorization": f"Bearer {token}", **headers}
        )
        assert response.status_code == status, (scope, headers)
        assert response.headers["content-type"] == "application/problem+json"


def test_a_served_ledger_stops_promptly_with_a_stream_open(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    ledger = str(Path(sys.executable).parent / "ledger")
    command = [ledger, "serve", "--dev", "--port", str(port)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        token = subprocess.run(
            [ledger, "token", "--sub", "root", "--scope", "sessions:read"],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        stream = Stream(url, token)
        assert stream.status == 200
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
        assert time.monotonic() - stopping < 5
        stream.close()
    finally:
        if process.poll() is None:
            process.kill()
