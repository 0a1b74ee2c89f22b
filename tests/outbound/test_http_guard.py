"""The delivery client refuses private addresses after DNS resolution and never follows
redirects; URLs are checked when registered too."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from ledger.outbound.http import client, refused_reason, url_problem


@pytest.fixture
def redirector() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fe80::1",
     "100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "fd00::1", "224.0.0.1"],
)  # fmt: skip
def test_private_addresses_are_refused(address: str) -> None:
    assert refused_reason(ipaddress.ip_address(address)) is not None


def test_public_addresses_pass() -> None:
    assert refused_reason(ipaddress.ip_address("93.184.215.14")) is None
    assert refused_reason(ipaddress.ip_address("2606:4700::1111")) is None


def test_connect_checks_after_resolution(redirector: str) -> None:
    with client(allow_private=False, timeout=5) as guarded:
        for url in (redirector, redirector.replace("127.0.0.1", "localhost")):
            with pytest.raises(httpx.ConnectError, match="loopback"):
                guarded.post(url, content=b"{}")


def test_redirects_are_not_followed(redirector: str) -> None:
    with client(allow_private=True, timeout=5) as open_client:
        response = open_client.post(redirector, content=b"{}")
    assert response.status_code == 307  # a failure for the sender, never followed


def test_registration_check() -> None:
    assert url_problem("https://127.0.0.1/x", allow_private=False) is not None
    assert url_problem("https://user:pw@example.com/x", allow_private=True) is not None
    assert url_problem("file:///etc/passwd", allow_private=True) is not None
    assert url_problem("http://127.0.0.1:9/x", allow_private=True) is None
