"""Keys from LEDGER_JWKS_URL: by kid, cached, fetched off the event loop; 503 when unreachable."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.api.keys import KeyNotCached, TokenVerifier
from tests.api.conftest import KeyPair, Minter


@pytest.fixture
def jwks_server(rsa_key: KeyPair, ec_key: KeyPair) -> Iterator[tuple[str, list[str]]]:
    """An HTTP server on localhost serving the IdP's JWKS; its URL and the paths requested."""
    body = json.dumps({"keys": [rsa_key.jwk, ec_key.jwk]}).encode()
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", requested
    server.shutdown()
    server.server_close()


def test_tokens_are_verified_with_keys_from_the_jwks_url(
    make_client: Callable[..., TestClient],
    jwks_server: tuple[str, list[str]],
    rs: Minter,
    ec_key: KeyPair,
    stranger_key: KeyPair,
) -> None:
    url, requested = jwks_server
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=url)
    assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200
    assert client.get("/v1/me/sessions", headers=Minter(ec_key).auth()).status_code == 200
    assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200
    assert len(requested) == 1
    assert client.get("/v1/me/sessions", headers=Minter(stranger_key).auth()).status_code == 401


def test_an_unreachable_jwks_url_is_a_503_problem(
    make_client: Callable[..., TestClient], rs: Minter
) -> None:
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url="http://127.0.0.1:9/jwks.json")
    response = client.get("/v1/me/sessions", headers=rs.auth())
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_a_jwks_url_key_is_fetched_off_the_event_loop_and_then_kept(
    make_client: Callable[..., TestClient],
    jwks_server: tuple[str, list[str]],
    rs: Minter,
    ec_key: KeyPair,
) -> None:
    url, requested = jwks_server
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=url)
    verifier: TokenVerifier = client.app.state.ledger.verifier  # type: ignore[attr-defined]
    assert verifier.url_keys is not None
    fetched_on_loop: list[bool] = []
    fetch = verifier.url_keys._fetch

    def watched(url: str) -> Any:
        try:
            asyncio.get_running_loop()
            fetched_on_loop.append(True)
        except RuntimeError:
            fetched_on_loop.append(False)
        return fetch(url)

    verifier.url_keys._fetch = watched
    for _ in range(3):
        assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200
    assert client.get("/v1/me/sessions", headers=Minter(ec_key).auth()).status_code == 200
    assert fetched_on_loop == [False]  # the whole set once, in a worker thread
    assert len(requested) == 1


def test_without_fetching_a_jwks_url_key_not_yet_known_is_reported(
    make_client: Callable[..., TestClient], jwks_server: tuple[str, list[str]], rs: Minter
) -> None:
    url, requested = jwks_server
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=url)
    verifier: TokenVerifier = client.app.state.ledger.verifier  # type: ignore[attr-defined]
    token = rs.token()
    with pytest.raises(KeyNotCached):
        verifier.key_for(token, fetch=False)
    assert requested == []
    verifier.key_for(token)
    verifier.key_for(token, fetch=False)
    assert len(requested) == 1
