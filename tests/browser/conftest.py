"""Fixtures of the browser tests: a real `ledger serve --dev` and Debian's headless Chromium.

The server runs as a subprocess on 127.0.0.1 with a free port, SQLite in a temporary
directory and its own development secret; tests seed it through the ingest API with tokens
minted by `ledger.keys.dev_tokens.mint_token`. Chromium is /usr/bin/chromium (Debian's package,
installed by `make browser` or .ci/browser-setup); without it the tests skip and say so, or
fail with `LEDGER_TEST_REQUIRE_BROWSER=1` (CI sets it, as it requires PostgreSQL).
Screenshots go to test-output/screenshots/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import httpx
import pytest

from ledger.config import load_settings
from ledger.keys.dev_tokens import mint_token
from tests.user_agents import UA

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ADMIN_SCOPES = "sessions:read sessions:terminate sessions:audit"
PAGE_SCOPES = ("sessions:me", "sessions:read", "sessions:terminate", "sessions:audit")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LedgerServer:
    """A running `ledger serve --dev`, with helpers to seed and inspect it through the API."""

    def __init__(
        self, url: str, mint: Callable[..., str], env: dict[str, str] | None = None
    ) -> None:
        self.url = url
        self.mint = mint
        self.env = env or {}  # the server's environment (its database), for `ledger-replay`
        self.http = httpx.Client(base_url=url, timeout=10)

    def token(self, sub: str, scope: str, *, sid: str | None = None, ttl: int = 3600) -> str:
        """A token the server accepts (its development secret, or the test IdP's key)."""
        return self.mint(sub, scope, sid, ttl)

    def mint_for(self, sub: str, scope: str, tenant: str) -> str:
        """A token of `tenant` (development secret only)."""
        return self.mint(sub, scope, None, 3600, tenant=tenant)

    def _call(
        self, method: str, path: str, scope: str, *, tenant: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        token = (
            self.token("idp-gateway", scope)
            if tenant is None
            else (self.mint_for("idp-gateway", scope, tenant))
        )
        headers = {"Authorization": f"Bearer {token}"}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response

    def start(
        self,
        user_id: str,
        session_id: str,
        *,
        ua: str,
        ip: str,
        app: tuple[str, str],
        minutes_ago: int = 0,
        tenant: str | None = None,
    ) -> None:
        """Start a session through the ingest API, `minutes_ago` in the past."""
        started = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        self._call(
            "POST",
            "/v1/sessions",
            "sessions:ingest",
            tenant=tenant,
            json={
                "session_id": session_id,
                "user_id": user_id,
                "ip": ip,
                "user_agent": UA[ua],
                "application": {"id": app[0], "name": app[1]},
                "auth_methods": ["pwd"],
                "started_at": started.isoformat(),
                "idle_timeout_s": 86_400,
                "max_lifetime_s": 172_800,
            },
        )

    def start_in(self, tenant: str, user_id: str, session_id: str, **kwargs: Any) -> None:
        """`start` in another tenant than the default."""
        self.start(user_id, session_id, tenant=tenant, **kwargs)

    def end(self, session_id: str, reason: str, *, tenant: str | None = None) -> None:
        """The IdP reports the end of a session (`logout` or `browser_closed`)."""
        self._call(
            "POST",
            f"/v1/sessions/{session_id}/terminate",
            "sessions:ingest",
            tenant=tenant,
            json={"reason": reason},
        )

    def history_in(self, tenant: str, user_id: str) -> list[dict[str, Any]]:
        """`history` in another tenant than the default."""
        path = f"/v1/users/{quote(user_id)}/sessions/history"
        return list(self._call("GET", path, ADMIN_SCOPES, tenant=tenant).json()["sessions"])

    def open_sessions(self, user_id: str) -> list[dict[str, Any]]:
        """The user's open sessions, as the API answers them."""
        data = self._call("GET", f"/v1/users/{quote(user_id)}/sessions", ADMIN_SCOPES).json()
        return list(data["sessions"])

    def history(self, user_id: str) -> list[dict[str, Any]]:
        """The user's sessions with end reasons, as the API answers them."""
        path = f"/v1/users/{quote(user_id)}/sessions/history"
        return list(self._call("GET", path, ADMIN_SCOPES).json()["sessions"])


REQUIRE_BROWSER = os.environ.get("LEDGER_TEST_REQUIRE_BROWSER") == "1"


def missing(why: str) -> NoReturn:
    """Skip, saying `why`; fail instead when the browser tier is required (CI)."""
    if REQUIRE_BROWSER:
        pytest.fail(f"LEDGER_TEST_REQUIRE_BROWSER=1 but {why}")
    pytest.skip(why)


def require_module(name: str, *, why: str) -> Any:
    """Import `name`, or `missing(why)`."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(why)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, or a skip that says how to install it (a failure when required)."""
    if not CHROMIUM.exists():
        missing(
            "browser tests need Debian's Chromium at /usr/bin/chromium: run `make browser` "
            "(CI installs it with .ci/browser-setup)"
        )
    return CHROMIUM


@contextlib.contextmanager
def running_ledger(home: Path, *, env: dict[str, str], dev: bool) -> Iterator[str]:
    """`ledger serve` in a subprocess on 127.0.0.1 and a free port; yields its URL.

    The server sees only the `LEDGER_*` variables in `env` (none of this shell's), with
    SQLite under `home`; its output goes to `home/server.log`.
    """
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    clean |= {
        "LEDGER_DATABASE_URL": f"sqlite:///{home}/ledger.sqlite3",
        "LEDGER_REAPER_INTERVAL_S": "3600",
        **env,
    }
    log_path = home / "server.log"
    command = [sys.executable, "-c", "from ledger.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)] + (["--dev"] if dev else [])
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=home, env=clean, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the server exited: {log_path.read_text()}")
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start: {log_path.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def ledger_server(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LedgerServer]:
    """`ledger serve --dev` on 127.0.0.1 and a free port, with SQLite in a temporary dir."""
    home = tmp_path_factory.mktemp("ledger-server")
    secret_file = home / "dev-secret"
    with running_ledger(home, env={"LEDGER_DEV_SECRET_FILE": str(secret_file)}, dev=True) as url:
        settings = load_settings(
            dev_secret_file=secret_file,
            jwt_secret=None,
            jwks_file=None,
            jwks_url=None,
            jwt_issuer=None,
            jwt_audience=None,
        )

        def mint(sub: str, scope: str, sid: str | None, ttl: int, tenant: str | None = None) -> str:
            tenant = tenant or "default"
            return mint_token(settings, sub=sub, scope=scope, sid=sid, ttl=ttl, tenant=tenant)

        env = {"LEDGER_DATABASE_URL": f"sqlite:///{home}/ledger.sqlite3"}
        plain = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        server = LedgerServer(url, mint, plain | env)
        yield server
        server.http.close()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    """Headless Chromium driven by Playwright (never a downloaded browser)."""
    sync_api = require_module("playwright.sync_api", why="Playwright is not installed (pip)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def user_agent(browser: Any) -> str:
    """Chromium's user agent, without the "Headless" that no person's browser shows."""
    probe = browser.new_page()
    agent = str(probe.evaluate("navigator.userAgent"))
    probe.close()
    return agent.replace("HeadlessChrome", "Chrome")


@pytest.fixture
def page(browser: Any, user_agent: str) -> Iterator[Any]:
    """A fresh browser context and page; fails the test on script errors or CSP violations."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        user_agent=user_agent,
        locale="en-GB",
        timezone_id="UTC",
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def shot() -> Callable[..., Path]:
    """Save a full-page screenshot as test-output/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take


def sign_in(
    page: Any,
    server: LedgerServer,
    *,
    user: str,
    scopes: tuple[str, ...],
    next_path: str,
    start_session: bool = True,
) -> None:
    """Sign in with the development sign-in form, as a person would, and land on `next_path`."""
    page.goto(f"{server.url}/signin?next={quote(next_path)}")
    page.get_by_label("User id").fill(user)
    for scope in PAGE_SCOPES:
        page.locator(f'input[name="scope"][value="{scope}"]').set_checked(scope in scopes)
    page.get_by_label(re.compile("Record a session for this browser")).set_checked(start_session)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(server.url + next_path)
