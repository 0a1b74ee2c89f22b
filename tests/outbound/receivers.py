"""Independent test receivers: an SSF push receiver (RFC 8935) and a Standard Webhooks
consumer, each its own HTTP server on 127.0.0.1.

The SSF receiver verifies every SET with joserfc (not PyJWT, which signs) against the
transmitter's published JWKS and checks the SSF 1.0 §4 profile (typ, iss, aud, one event,
no sub/exp); the webhook consumer verifies with the `standardwebhooks` package. Both answer
as the test tells them: accept, be down (503), or refuse (400 with an RFC 8935 `err`, or 410).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from joserfc import jws
from joserfc.jwk import KeySet, KeySetSerialization
from standardwebhooks import Webhook

SET_TYPE = "secevent+jwt"


class Receiver:
    """A receiver; `received` holds what it accepted, in arrival order."""

    def __init__(self, port: int = 0) -> None:
        self.mode = "ok"  # ok | down | reject | gone | fail_events (all but SSF's own)
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self.problems: list[str] = []
        self.authorizations: list[str | None] = []
        self.ids: list[str | None] = []
        self.delay = 0.0  # seconds each answer takes
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = receiver.handle(dict(self.headers), body)
                self.send_response(status)
                data = json.dumps(answer).encode() if answer is not None else b""
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            time.sleep(self.delay)
            self.attempts += 1
            self.authorizations.append(headers.get("Authorization"))
            self.ids.append({k.lower(): v for k, v in headers.items()}.get("webhook-id"))
            if self.mode == "down":
                return 503, None
            if self.mode == "gone":
                return 410, None
            if self.mode == "reject":
                return 400, {"err": "invalid_request", "description": "not for us"}
            try:
                claims = self.verify(headers, body)
            except Exception as e:
                self.problems.append(f"{type(e).__name__}: {e}")
                return 400, {"err": "invalid_request", "description": str(e)}
            if self.mode == "fail_events" and "/ssf/" not in next(
                iter(claims.get("events", {"": 0}))
            ):
                return 503, None
            self.received.append(claims)
            return 202, None

    def verify(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def jtis(self) -> list[str]:
        return [r["jti"] for r in self.received]


class SetReceiver(Receiver):
    """An SSF push receiver (RFC 8935 §2)."""

    def __init__(self, *, jwks: dict[str, Any], issuer: str, audience: str, port: int = 0) -> None:
        self.keys = KeySet.import_key_set(cast(KeySetSerialization, jwks))
        self.issuer, self.audience = issuer, audience
        super().__init__(port)

    def verify(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        return verify_set(body.decode(), self.keys, issuer=self.issuer, audience=self.audience,
                          content_type=headers.get("Content-Type"))  # fmt: skip


def verify_set(
    token: str, keys: KeySet, *, issuer: str, audience: str, content_type: str | None = None
) -> dict[str, Any]:
    """The claims of a SET, after every check a receiver makes (AssertionError otherwise)."""
    if content_type is not None:
        assert content_type == "application/secevent+jwt", content_type  # RFC 8935 §2
    verified = jws.deserialize_compact(token, keys, algorithms=["RS256"])
    assert verified.headers()["typ"] == SET_TYPE  # RFC 8417 §2.3
    claims: dict[str, Any] = json.loads(verified.payload)
    assert claims["iss"] == issuer, claims["iss"]
    assert claims["aud"] == audience, claims["aud"]
    assert "sub" not in claims and "exp" not in claims  # SSF 1.0 §4.1
    assert isinstance(claims["iat"], int) and claims["jti"]
    assert len(claims["events"]) == 1  # one event per SET
    assert claims["sub_id"]["format"] in ("complex", "opaque")
    return claims


class WebhookReceiver(Receiver):
    """A Standard Webhooks consumer."""

    def __init__(self) -> None:
        self.secret: str | None = None
        super().__init__()

    def verify(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        assert self.secret is not None
        message: dict[str, Any] = Webhook(self.secret).verify(body, headers)
        lowered = {k.lower(): v for k, v in headers.items()}
        message["jti"] = lowered["webhook-id"]
        return message
