"""A throw-away ledger for tests: a fresh database, a clock the test moves, an HTTP client.

`open_sandbox(database_url)` bootstraps a ledger (projections running in the process) on an
empty SQLite file or PostgreSQL schema, with a random token secret, and `Sandbox` gives what a
test of an integration needs: the `SessionLedger`, the views, an HTTP client of the real ASGI
app (`client`), signed tokens of chosen scopes (`headers`, `tokens`), and `play` to run a story
step next to the reference model. The pytest plugin (`ledger.testing.plugin`) hands these out
as fixtures. Tests: tests/testing_kit/test_checks.py, tests/testing_kit/test_plugin.py.
"""

from __future__ import annotations

import secrets
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jwt

from ledger.application import SessionLedger
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings, load_settings
from ledger.persistence.schema import prepare_database
from ledger.testing.checks import assert_ledger_agrees, assert_views_agree, play
from ledger.testing.model import Model
from ledger.testing.story import EPOCH, Step

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

ISSUER = "https://idp.sandbox.test"
AUDIENCE = "session-ledger"


class ManualClock:
    """A clock the test moves by hand (UTC, timezone-aware); the ledger reads it as `now`."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class TokenMinter:
    """Mints the HS256 access tokens a sandbox's API accepts."""

    def __init__(self, secret: str, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.secret, self.issuer, self.audience = secret, issuer, audience

    def token(self, scope: str, *, sub: str = "idp", tenant: str = "acme", ttl: int = 600) -> str:
        """A token for `sub` in `tenant` with `scope` (space-separated scopes)."""
        now = int(time.time())
        claims = {
            "sub": sub, "scope": scope, "tenant": tenant, "iss": self.issuer,
            "aud": self.audience, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex,
        }  # fmt: skip
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def headers(self, scope: str, *, sub: str = "idp", tenant: str = "acme") -> dict[str, str]:
        """The `Authorization` header of `token(...)`."""
        return {"Authorization": f"Bearer {self.token(scope, sub=sub, tenant=tenant)}"}


class CommandSide:
    """A ledger's command side alone (no views, no API): what `open_sandbox(views=False)` runs."""

    def __init__(self, settings: Settings, clock: ManualClock) -> None:
        url = settings.events_url
        prepare_database(url)
        self.settings = settings
        self.ledger = SessionLedger(url.library_env(pool_size=2), clock=clock, group_commit=False)

    def close(self) -> None:
        """Close the ledger's connections."""
        self.ledger.close()


class Sandbox:
    """One throw-away ledger and what a test drives it with."""

    def __init__(
        self, system: LedgerSystem | CommandSide, clock: ManualClock, tokens: TokenMinter
    ) -> None:
        self.system, self.clock, self.tokens = system, clock, tokens
        self.model = Model()
        self._client: TestClient | None = None

    @property
    def settings(self) -> Settings:
        """The sandbox's settings."""
        return self.system.settings

    @property
    def ledger(self) -> Any:
        """The `SessionLedger` (its commands)."""
        return self.system.ledger

    @property
    def client(self) -> TestClient:
        """An HTTP client of the real app serving this ledger (opened on first use)."""
        if self._client is None:
            from ledger.api.app import create_app

            system = self._full()
            with warnings.catch_warnings():  # starlette's note about httpx, not ours to act on
                warnings.simplefilter("ignore")
                from fastapi.testclient import TestClient

            app = create_app(self.settings, system=system, clock=self.clock)
            self._client = TestClient(app)
            self._client.__enter__()
        return self._client

    def _full(self) -> LedgerSystem:
        if not isinstance(self.system, LedgerSystem):
            raise RuntimeError("this sandbox runs the command side alone (views=False)")
        return self.system

    def headers(self, scope: str, *, sub: str = "idp", tenant: str = "acme") -> dict[str, str]:
        """An `Authorization` header with a token of `scope`."""
        return self.tokens.headers(scope, sub=sub, tenant=tenant)

    def expect(self, step: Step) -> Any:
        """Move the clock to the step's time and tell the model (not the ledger) about it.

        For steps an integration delivers itself; returns what the model expects.
        """
        self.clock.now = max(self.clock.now, step.at)
        return step.expect(self.model)

    def play(self, step: Step) -> Any:
        """Run `step` on the ledger and on `model`, which must agree (see `checks.play`)."""
        return play(step, ledger=self.ledger, model=self.model, clock=self.clock)

    def caught_up(self, timeout: float = 20) -> None:
        """Wait until the views hold every recorded event."""
        system, head = self._full(), self.ledger.recorder.max_notification_id()
        if not system.wait(head, timeout=timeout):
            raise TimeoutError(f"views did not catch up: {system.lag()}")

    def check(self, model: Model | None = None) -> None:
        """The aggregates and the views (after catching up; if any) say what `model` says."""
        model = model or self.model
        assert_ledger_agrees(self.ledger, model, self.clock())
        if isinstance(self.system, LedgerSystem):
            self.caught_up()
            assert_views_agree(self.system, model, self.clock())

    def close(self) -> None:
        """Close the client and the ledger."""
        if self._client is not None:
            self._client.__exit__(None, None, None)
        self.system.close()


def sandbox_settings(database_url: str, secret: str, **overrides: Any) -> Settings:
    """Settings of a sandbox on `database_url` (`overrides` go over them)."""
    values: dict[str, Any] = {
        "database_url": database_url, "jwt_secret": secret, "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE, "group_commit": False, "pg_pool_size": 2,
        "reaper_interval_s": 3600, "consistency_timeout_s": 10,
    }  # fmt: skip
    return load_settings(**(values | overrides))


@contextmanager
def open_sandbox(
    database_url: str,
    *,
    start: datetime = EPOCH,
    views: bool = True,
    **overrides: Any,
) -> Iterator[Sandbox]:
    """A sandbox on the empty database `database_url`, closed on exit.

    `views=False` runs the command side alone (no views, no HTTP client; much faster to open).
    """
    secret = secrets.token_urlsafe(32)
    clock = ManualClock(start)
    settings = sandbox_settings(database_url, secret, **overrides)
    system: LedgerSystem | CommandSide = (
        bootstrap(settings, clock=clock, run_projections=True)
        if views
        else CommandSide(settings, clock)
    )
    box = Sandbox(system, clock, TokenMinter(secret))
    try:
        yield box
    finally:
        box.close()
