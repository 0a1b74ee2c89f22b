"""Two small identity providers over real HTTP, each implementing only what its vendor
documents for ending sessions, and checking every request the ledger makes:

* `Wso2Server`: WSO2 Identity Server / Asgardeo. Token endpoint `/t/{tenant}/oauth2/token`
  (client credentials, HTTP Basic); Session Management API v1 (identity-api-user
  `session.yaml`): `DELETE /t/{tenant}/api/users/v1/{user-id}/sessions[/{session-id}]`, scope
  `internal_session_delete`, 204. Ending a session the server does not have answers 204
  too (WSO2's implementation); an unknown user answers 404 with WSO2's error body.
* `KeycloakServer`: token endpoint `/realms/{realm}/protocol/openid-connect/token`; admin
  REST API `DELETE /admin/realms/{realm}/sessions/{session}` (404 when there is no such
  session) and `POST /admin/realms/{realm}/users/{id}/logout` (404 for an unknown user).

Every request must carry a bearer token the server issued and has not revoked (401
otherwise) with the rights the call needs (403 otherwise); whatever else arrives is
answered 404/405 and noted in `problems`, which tests expect to stay empty. `down` answers
503 to everything; `revoke_tokens()` makes every issued token stale (expired at the IdP).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus

WSO2_SCOPE = "internal_session_delete"


@dataclass
class Call:
    """One request to the session API and the server's answer."""

    method: str
    path: str
    status: int
    token: str | None


@dataclass
class Issued:
    """A token the server issued: its scope, and whether it is still good."""

    scope: str
    valid: bool = True


@dataclass
class IdpServer:
    """The common part: HTTP server, token endpoint, bearer checks, what happened."""

    client_id: str
    client_secret: str
    sessions: dict[str, set[str]] = field(default_factory=dict)  # user -> session ids
    down: bool = False
    lifetime_s: int = 3600
    calls: list[Call] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    issued: dict[str, Issued] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, answer = server.handle(self.command, self.path, dict(self.headers), body)
                data = json.dumps(answer).encode() if answer is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _any  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # ------------------------------------------------------------------ the parts

    token_path = ""

    def route(self, method: str, path: str, issued: Issued) -> tuple[int, Any]:
        """The session API's answer (subclasses)."""
        raise NotImplementedError

    def required_scope(self) -> str | None:
        """The scope the session API wants in the token (subclasses)."""
        return None

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        with self.lock:
            if self.down:
                return 503, None
            path = raw_path.split("?", 1)[0]
            if path == self.token_path:
                return self._token(method, headers, body)
            token = _bearer(headers)
            issued = self.issued.get(token or "")
            if issued is None or not issued.valid:
                status, answer = 401, None
            else:
                status, answer = self.route(method, path, issued)
            self.calls.append(Call(method, path, status, token))
            return status, answer

    def _token(self, method: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        """RFC 6749 §4.4.2 / §2.3.1 / §5.1."""
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        self.token_requests.append(form)
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if method != "POST" or not content_type.startswith("application/x-www-form-urlencoded"):
            self.problems.append(f"token request: {method} {content_type}")
            return 400, {"error": "invalid_request"}
        if _basic(headers) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "client_credentials":
            self.problems.append(f"grant_type {form.get('grant_type')!r}")
            return 400, {"error": "unsupported_grant_type"}
        scope = form.get("scope", "")
        wanted = self.required_scope()
        if wanted is not None and wanted not in scope.split():
            self.problems.append(f"token asked without {wanted}: {scope!r}")
        token = secrets.token_urlsafe(24)
        self.issued[token] = Issued(scope)
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime_s}
        return 200, answer

    # ------------------------------------------------------------------ test controls

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (expired or revoked at the IdP)."""
        with self.lock:
            for issued in self.issued.values():
                issued.valid = False

    def ended(self) -> list[str]:
        """'METHOD path' of every call answered 2xx, in order."""
        with self.lock:
            return [f"{c.method} {c.path}" for c in self.calls if 200 <= c.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Wso2Server(IdpServer):
    """WSO2 Identity Server / Asgardeo: tenant-qualified token endpoint and session API."""

    def __init__(self, *, tenant_domain: str, client_id: str, client_secret: str) -> None:
        self.tenant_domain = tenant_domain
        self.token_path = f"/t/{tenant_domain}/oauth2/token"
        super().__init__(client_id, client_secret)

    def required_scope(self) -> str | None:
        return WSO2_SCOPE

    def route(self, method: str, path: str, issued: Issued) -> tuple[int, Any]:
        prefix = f"/t/{self.tenant_domain}/api/users/v1/"
        parts = path[len(prefix) :].split("/") if path.startswith(prefix) else []
        if len(parts) not in (2, 3) or parts[1] != "sessions" or method != "DELETE":
            self.problems.append(f"unexpected {method} {path}")
            return 405, None
        if WSO2_SCOPE not in issued.scope.split():
            return 403, _wso2_error("USM-10007", "Forbidden")
        user = unquote(parts[0])
        if user not in self.sessions:
            return 404, _wso2_error("USM-00404", "User not found")
        if len(parts) == 2:
            self.sessions[user].clear()  # all of the user's sessions
        else:
            self.sessions[user].discard(unquote(parts[2]))  # 204 even when missing
        return 204, None


def _wso2_error(code: str, message: str) -> dict[str, str]:
    """WSO2's error body (session.yaml `Error`)."""
    return {"code": code, "message": message, "description": message, "traceId": "t-1"}


class KeycloakServer(IdpServer):
    """Keycloak: realm token endpoint, admin REST API for sessions and user logout."""

    def __init__(self, *, realm: str, client_id: str, client_secret: str) -> None:
        self.realm = realm
        self.token_path = f"/realms/{realm}/protocol/openid-connect/token"
        self.manage_users = True  # the service account's realm-management role
        super().__init__(client_id, client_secret)

    def route(self, method: str, path: str, issued: Issued) -> tuple[int, Any]:
        prefix = f"/admin/realms/{self.realm}/"
        parts = path[len(prefix) :].split("/") if path.startswith(prefix) else []
        if not self.manage_users:
            return 403, {"error": "unknown_error"}
        if method == "DELETE" and len(parts) == 2 and parts[0] == "sessions":
            sid = unquote(parts[1])
            owner = next((u for u, s in self.sessions.items() if sid in s), None)
            if owner is None:
                return 404, {"error": "Session not found"}
            self.sessions[owner].discard(sid)
            return 204, None
        if method == "POST" and len(parts) == 3 and parts[0] == "users" and parts[2] == "logout":
            user = unquote(parts[1])
            if user not in self.sessions:
                return 404, {"error": "User not found"}
            self.sessions[user].clear()
            return 204, None
        self.problems.append(f"unexpected {method} {path}")
        return 405, None


def _bearer(headers: dict[str, str]) -> str | None:
    value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    return value[7:] if value.startswith("Bearer ") else None


def _basic(headers: dict[str, str]) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: Basic over the form-encoded id and secret."""
    value = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
    if not value.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)
