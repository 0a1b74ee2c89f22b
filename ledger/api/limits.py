"""Request body limit: a body over `LEDGER_MAX_BODY_BYTES` (64 KiB) is a 413 problem.

Routes that take batches have their own limit (`POST /v1/events`: `LEDGER_MAX_BATCH_BODY_BYTES`,
1 MiB), given as `paths`.

Checked on `Content-Length` before anything is read, and by counting the bytes of bodies
sent without it, so the application never holds more than the limit.
Tests: tests/api/test_errors.py.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.api.problems import PROBLEM_TYPE, problem_json_bytes


class BodyLimitMiddleware:
    """Refuses request bodies larger than `limit` bytes with 413."""

    def __init__(self, app: ASGIApp, *, limit: int, paths: dict[str, int] | None = None) -> None:
        self.app, self.limit, self.paths = app, limit, paths or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body up to the limit, then hand it to the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.paths.get(scope.get("path", ""), self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        body, more, messages = 0, True, []
        while more:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            body += len(message.get("body", b""))
            if body > limit:
                await self._refuse(send, limit)
                return
            messages.append(message)
            more = bool(message.get("more_body", False))

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = problem_json_bytes(
            413, "body-too-large", "Request body too large", f"at most {limit} bytes"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
