"""A minimal OpenID Connect provider for the browser tests, on 127.0.0.1.

Discovery, an authorization endpoint that signs one fixed user in at once (no login form),
and a token endpoint that refuses a code unless the PKCE verifier matches its S256
challenge, the client and the redirect URI are the same, and the code is fresh. Tokens are
RS256 with a key made per run; `jwks()` is what the ledger is told to trust.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import socket
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CORS = {"Access-Control-Allow-Origin": "*"}
AUDIENCE = "session-ledger"  # the aud of its access tokens (LEDGER_JWT_AUDIENCE)


class FakeIdP:
    """An OpenID Connect provider that signs `user` in with session `sid` when asked."""

    def __init__(self, *, client_id: str, user: str, sid: str) -> None:
        self.client_id, self.user, self.sid = client_id, user, sid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.codes: dict[str, dict[str, str]] = {}
        self.authorize_requests: list[dict[str, str]] = []
        self.issued: list[str] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/authorize", self.authorize),
                Route("/token", self.token_endpoint, methods=["POST"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def jwks(self) -> dict[str, Any]:
        """The public key set, as the ledger's LEDGER_JWKS_FILE holds it."""
        public = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "fake-idp", "use": "sig", "alg": "RS256"}]}

    def token(self, sub: str, scope: str, *, sid: str | None = None, ttl: int = 3600) -> str:
        """An access token of this provider."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "sub": sub, "scope": scope, "aud": AUDIENCE}
        claims |= {"iat": now, "exp": now + ttl} | ({"sid": sid} if sid else {})
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "fake-idp"})

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
            },
            headers=CORS,
        )

    async def authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        self.authorize_requests.append(q)
        ok = (
            q.get("response_type") == "code"
            and q.get("client_id") == self.client_id
            and q.get("code_challenge_method") == "S256"
            and len(q.get("code_challenge", "")) == 43
        )
        if not ok:
            return Response("bad authorization request", status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = q
        answer = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{q['redirect_uri']}?{answer}", status_code=302)

    async def token_endpoint(self, request: Request) -> Response:
        form = await request.form()
        asked = self.codes.pop(str(form.get("code")), None)
        verifier = str(form.get("code_verifier", "")).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (
            asked is None
            or form.get("grant_type") != "authorization_code"
            or form.get("client_id") != asked["client_id"]
            or form.get("redirect_uri") != asked["redirect_uri"]
            or digest.decode() != asked["code_challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400, headers=CORS)
        scope = " ".join(s for s in asked["scope"].split() if s != "openid")
        access = self.token(self.user, scope, sid=self.sid)
        self.issued.append(access)
        now = int(time.time())
        id_token = jwt.encode(
            {"iss": self.issuer, "sub": self.user, "aud": self.client_id, "iat": now}
            | {"exp": now + 600, "nonce": asked.get("nonce"), "sid": self.sid},
            self.key,
            algorithm="RS256",
            headers={"kid": "fake-idp"},
        )
        body = {"access_token": access, "id_token": id_token, "token_type": "Bearer"}
        return JSONResponse(body | {"expires_in": 3600}, headers=CORS)

    def start(self) -> None:
        """Serve in a thread until `stop()`."""
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake identity provider did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
