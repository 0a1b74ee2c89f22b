"""`ledger serve --dev` (make run) serves with two workers and the curl example works."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ledger.api.serve import banner, run
from ledger.config import load_settings
from ledger.errors import ConfigError

LEDGER = str(Path(sys.executable).parent / "ledger")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`ledger serve --dev --workers 2` in an empty folder; its URL and environment."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    process = subprocess.Popen(
        [LEDGER, "serve", "--dev", "--port", str(port), "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            process.kill()
            pytest.fail(f"server did not start: {process.communicate()[0]}")
        yield url, env
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"{url}/docs" in output
    assert "ledger token --sub alice" in output


@pytest.mark.slow
def test_make_run_serves_and_the_readme_curl_example_works(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served
    secret = tmp_path / "var" / "dev-secret"
    assert secret.stat().st_mode & 0o077 == 0

    def token(*args: str) -> str:
        done = subprocess.run(
            [LEDGER, "token", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    ingest = {"Authorization": f"Bearer {token('--sub', 'my-idp', '--scope', 'sessions:ingest')}"}
    body = {"session_id": "s-1", "user_id": "alice", "ip": "203.0.113.7", "user_agent": "curl"}
    created = httpx.post(f"{url}/v1/sessions", json=body, headers=ingest)
    assert created.status_code == 201, created.text
    alice = token("--sub", "alice", "--scope", "sessions:me", "--sid", "s-1")
    me = {"Authorization": f"Bearer {alice}"}
    for _ in range(4):  # each request may land on either worker
        listed = httpx.get(f"{url}/v1/me/sessions", headers=me).json()["sessions"]
        assert [(s["id"], s["current"]) for s in listed] == [("s-1", True)]
    assert httpx.get(f"{url}/openapi.json").json()["info"]["title"] == "Session Ledger"


def test_the_banner_says_where_the_docs_are_and_how_to_mint_a_token(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/l.db")
    text = banner(settings, host="0.0.0.0", port=8123, dev=True)
    assert "http://127.0.0.1:8123/docs" in text
    assert "ledger token --sub alice --scope sessions:me" in text


def test_serve_refuses_a_bad_configuration_before_starting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path}/l.db")
    for name in ("LEDGER_JWT_SECRET", "LEDGER_JWKS_FILE", "LEDGER_JWKS_URL", "LEDGER_DEV_MODE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="LEDGER_JWT_SECRET"):
        run(host="127.0.0.1", port=0, workers=1, dev=False)
    with pytest.raises(ConfigError, match="--workers"):
        run(host="127.0.0.1", port=0, workers=0, dev=True)
