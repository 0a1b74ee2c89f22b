"""The HTTP client of every delivery: no redirects, no proxies from the environment, and a
guard against server-side request forgery.

Receivers' URLs are untrusted input. Unless private networks are allowed, the guard refuses to
connect when the host resolves to any loopback, link-local, private, shared, reserved or
multicast address; it checks at connect time, after DNS resolution, and then connects to the
very address it checked (no second lookup an attacker's DNS could answer differently).
Tests: tests/outbound/test_http_guard.py.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(httpcore.ConnectError):
    """The host names an address deliveries may not reach."""


def refused_reason(address: IPAddress) -> str | None:
    """Why deliveries may not reach `address` (None when it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast or not address.is_global:
        return "a private or reserved address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (raises OSError when it does not)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def check_host(host: str, port: int) -> IPAddress:
    """The first address of `host`, when none of its addresses is refused."""
    addresses = resolve(host, port)
    for address in addresses:
        reason = refused_reason(address)
        if reason is not None:
            raise AddressRefused(f"{host} resolves to {address}, {reason}")
    return addresses[0]


class GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the guard accepts (all of them when `allow_private`)."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve, check every address, connect to the checked one."""
        if not self.allow_private:
            try:
                host = str(check_host(host, port))
            except OSError as e:
                raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from None
        return super().connect_tcp(host, port, timeout, local_address, socket_options)


def client(*, allow_private: bool, timeout: float) -> httpx.Client:
    """A client for deliveries: guarded, never following redirects, no proxies."""
    transport = httpx.HTTPTransport(retries=0)
    transport._pool = httpcore.ConnectionPool(  # the only way to give httpx a network backend
        ssl_context=httpx.create_ssl_context(),
        network_backend=GuardedBackend(allow_private=allow_private),
        max_connections=20,
        keepalive_expiry=30,
    )
    return httpx.Client(
        transport=transport, follow_redirects=False, trust_env=False, timeout=timeout
    )


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why `url` cannot be a delivery URL (checked when it is registered), or None."""
    parts = urlsplit(url)
    try:
        port = parts.port or 443
    except ValueError:
        return "has an invalid port"
    problem = _shape_problem(parts.scheme, parts.hostname, parts.username or parts.password)
    if problem is not None or allow_private:
        return problem
    if parts.scheme == "http":
        return "must be https://"
    assert parts.hostname is not None
    try:
        check_host(parts.hostname, port)
    except AddressRefused as e:
        return f"not allowed: {e}"
    except (OSError, UnicodeError) as e:
        return f"cannot resolve {parts.hostname}: {e}"
    return None


def _shape_problem(scheme: str, host: str | None, credentials: str | None) -> str | None:
    if scheme not in ("https", "http") or not host:
        return "must be an absolute https:// URL"
    if credentials:
        return "must not carry credentials"
    return None
