"""Security headers on every API answer: never cached, never content-sniffed.

`/v1` and `/web` responses (errors included) hold personal data (addresses, devices,
sessions): `ApiHeadersMiddleware` adds `Cache-Control: no-store` (RFC 9111 §5.2.2.5, so no
shared or browser cache keeps them) and `X-Content-Type-Options: nosniff` (Fetch standard,
so a browser never reads JSON as HTML or script), unless the handler set its own. A raw
ASGI middleware: one header check per response, no body buffering.
Tests: tests/security/test_headers.py.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIXES = ("/v1/", "/web/")
HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


class ApiHeadersMiddleware:
    """Adds `HEADERS` to the responses of paths under `PREFIXES`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIXES):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, sending)
