"""A minimal Shared Signals push receiver (RFC 8935) for an app that trusts the ledger.

Run: LEDGER_ISSUER=https://ledger.example.com AUDIENCE=my-app python ssf_receiver.py
then create a push stream whose endpoint_url is http(s)://<this host>:8080/ (README.md).
It verifies each SET (signature against the ledger's JWKS, `typ`, `iss`, `aud`), ignores a
`jti` it has seen, and ends the app's own session on `session-revoked`.
Tested by tests/outbound/test_readme_receiver.py.
"""

from __future__ import annotations

import json
import os
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import jwt

REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"


class Verifier:
    """Checks SETs against the transmitter's keys, issuer and our audience."""

    def __init__(self, jwks: dict[str, Any], *, issuer: str, audience: str) -> None:
        self.keys = {k.key_id: k.key for k in jwt.PyJWKSet.from_dict(jwks).keys}
        self.issuer, self.audience = issuer, audience
        self.seen: set[str] = set()

    def verify(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("typ") != "secevent+jwt":  # RFC 8417 §2.3
            raise jwt.InvalidTokenError("not a security event token")
        return jwt.decode(  # type: ignore[no-any-return]
            token, self.keys[header["kid"]], algorithms=["RS256"],
            issuer=self.issuer, audience=self.audience,
        )  # fmt: skip


def end_local_session(user: str, session: str) -> None:
    """Your app's logout of that IdP session (here: print it)."""
    print(f"ending session {session} of {user}")


def handler(verifier: Verifier) -> type[BaseHTTPRequestHandler]:
    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            token = self.rfile.read(int(self.headers["Content-Length"])).decode()
            try:
                claims = verifier.verify(token)
            except (jwt.PyJWTError, KeyError) as e:  # RFC 8935 §2.3: 400 with err
                body = json.dumps({"err": "invalid_request", "description": str(e)}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)
                return
            if claims["jti"] not in verifier.seen:  # delivered at least once: keep it once
                verifier.seen.add(claims["jti"])
                if REVOKED in claims["events"]:
                    subject = claims["sub_id"]
                    end_local_session(subject["user"]["sub"], subject["session"]["id"])
            self.send_response(202)  # RFC 8935 §2.2
            self.end_headers()

    return Receiver


def main() -> None:
    issuer = os.environ["LEDGER_ISSUER"]
    with urllib.request.urlopen(issuer + "/.well-known/jwks.json") as answer:  # noqa: S310
        jwks = json.load(answer)
    verifier = Verifier(jwks, issuer=issuer, audience=os.environ["AUDIENCE"])
    HTTPServer(("", 8080), handler(verifier)).serve_forever()


if __name__ == "__main__":
    main()
