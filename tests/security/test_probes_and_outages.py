"""An IdP outage is not a ledger outage: while the JWKS URL hangs, requests with random `kid`s
share one fetch, and `/healthz` and `/readyz` answer at once (they never wait for the request
thread pool). A real uvicorn server, real concurrent HTTP clients, a JWKS server that hangs."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from ledger.api.app import create_app
from ledger.bootstrap import bootstrap
from ledger.config import Settings
from tests.api.conftest import KeyPair, Minter
from tests.conftest import FakeClock
from tests.security.conftest import JwksServer

CLIENTS = 45  # more than the request thread pool's 40 threads


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def live(
    api_settings: Settings,
    make_settings: Callable[..., Settings],
    clock: FakeClock,
    jwks_server: JwksServer,
) -> Iterator[str]:
    """The API on a real uvicorn server, trusting only the JWKS URL; its base URL."""
    values = api_settings.model_dump() | {"jwt_secret": None, "jwks_file": None}
    settings = make_settings(**(values | {"jwks_url": jwks_server.url}))
    system = bootstrap(settings, clock=clock, run_projections=True)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, system=system), host="127.0.0.1", port=port)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    jwks_server.hold.set()
    server.should_exit = True
    thread.join(timeout=30)
    system.close()


def test_health_answers_while_a_hanging_idp_holds_every_request(
    live: str, jwks_server: JwksServer, rsa_key: KeyPair
) -> None:
    jwks_server.hold.clear()  # the IdP stops answering

    def forged() -> httpx.Response:
        minter = Minter(KeyPair(uuid.uuid4().hex, "RS256", rsa_key.private, rsa_key.jwk))
        return httpx.get(f"{live}/v1/me/sessions", headers=minter.auth(), timeout=60)

    with ThreadPoolExecutor(CLIENTS) as pool:
        pending = [pool.submit(forged) for _ in range(CLIENTS)]
        while jwks_server.requests == 0:
            time.sleep(0.02)
        time.sleep(0.5)  # the other requests arrive and wait for the key set
        health = httpx.get(f"{live}/healthz", timeout=2)
        ready = httpx.get(f"{live}/readyz", timeout=2)
        assert not jwks_server.hold.is_set()  # the IdP was still hanging meanwhile
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert ready.status_code == 200
        jwks_server.hold.set()
        statuses = {future.result().status_code for future in pending}
    assert statuses <= {401, 503}  # unknown keys, or the fetch timed out: never served
    assert jwks_server.requests == 1  # one fetch for all of them
