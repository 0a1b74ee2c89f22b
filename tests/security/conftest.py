"""Fixtures of the security tier: the API tier's real app, keys and token minters, plus a
JWKS server on localhost whose key set, failures and hangs the test controls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.api.conftest import (  # noqa: F401 - fixtures shared with the API tier
    KeyPair,
    api_settings,
    api_system,
    client,
    ec_key,
    hs,
    jwks_file,
    make_client,
    minter,
    rs,
    rsa_key,
    stranger_key,
)


@dataclass
class JwksServer:
    """A JWKS endpoint: `keys` is served as is; `status` other than 200 fails every fetch;
    while `hold` is clear, every request waits for it (an IdP that hangs)."""

    url: str = ""
    keys: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    hold: threading.Event = field(default_factory=threading.Event)
    requests: int = 0

    def __post_init__(self) -> None:
        self.hold.set()


@pytest.fixture
def jwks_server(rsa_key: KeyPair, ec_key: KeyPair) -> Iterator[JwksServer]:  # noqa: F811
    """A JWKS server on 127.0.0.1 serving the IdP's two public keys."""
    state = JwksServer(keys=[rsa_key.jwk, ec_key.jwk])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            state.hold.wait(30)
            body = json.dumps({"keys": state.keys}).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield state
    state.hold.set()
    server.shutdown()
    server.server_close()


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of `status` and type `slug`; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"tag:session-ledger,2026:problem:{slug}"
    assert body["status"] == status
    return body
