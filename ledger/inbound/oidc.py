"""OpenID Connect Back-Channel Logout 1.0 (`kind = "oidc"`, and `/v1/oidc/backchannel-logout`).

The OP posts `logout_token=<JWT>` form-encoded (OIDC BCL §2.5). The token is verified as
§2.6 says: signature by the connection's keys (never an HMAC secret), `iss`, `aud`, `iat`
(not older than the maximum age), the back-channel `events` member, `sid` and/or `sub`, no
`nonce`; a `jti` seen before is refused (§2.6 step 8 allows it; the ledger keeps them across
workers and restarts). With `sid`, that session ends; with `sub` only, all the user's.
Reason `logout`, actor the issuer, cause `<connection>:<jti>`. Answers 200, or 400 with
`{"error": "invalid_request", "error_description"}`; both `Cache-Control: no-store` (§2.8).
The tenant is the connection's; the legacy endpoint's connection (issuer and keys from the
settings) takes it from the token's tenant claim, `default` when absent.
Tests: tests/inbound/test_oidc.py, tests/api/test_backchannel.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs

import jwt
import orjson

from ledger import validation as check
from ledger.api.keys import TokenRefused
from ledger.inbound.commands import Command, EndSession, EndUserSessions
from ledger.inbound.seam import (
    Adapter,
    Connection,
    InboundRequest,
    Malformed,
    Message,
    Refused,
    Reply,
    Result,
)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYPES = frozenset({None, "JWT", "logout+jwt", "application/logout+jwt"})
NO_STORE = {"Cache-Control": "no-store"}
MAX_TOKEN = 4096  # real logout tokens are 1-2 KiB
FORM = "application/x-www-form-urlencoded"


class OidcAdapter(Adapter):
    """Back-channel logout tokens of one OpenID provider."""

    kind = "oidc"
    refuse_replays = True
    options: ClassVar[frozenset[str]] = frozenset({"max_age_s"})

    def __init__(
        self, connection: Connection, *, tenant_claim: str | None = None, leeway_s: int = 30
    ) -> None:
        super().__init__(connection)
        self.tenant_claim, self.leeway_s = tenant_claim, leeway_s
        self.max_age_s = connection.options.get("max_age_s", 600)
        if not isinstance(self.max_age_s, int) or not 10 <= self.max_age_s <= 86_400:
            raise ValueError("`max_age_s` must be an integer from 10 to 86400")
        if tenant_claim is None:  # a configured connection, not the legacy endpoint
            if connection.keys is None:
                raise ValueError("an oidc connection needs `jwks_file` or `jwks_url`")
            if connection.issuer is None or connection.audience is None:
                raise ValueError("an oidc connection needs `issuer` and `audience` (client id)")

    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message]:
        """Verify the logout token (§2.6) and map it to the terminations it asks for."""
        claims = self.verify(logout_token(request))
        jti = claims["jti"]
        until = datetime.fromtimestamp(
            max(float(claims.get("exp") or 0), claims["iat"] + self.max_age_s) + self.leeway_s,
            UTC,
        )
        return [
            Message(
                jti,
                "backchannel-logout",
                self._tenant(claims),
                self._commands(claims),
                keep_until=until,
                scope=f"{self.connection.name}:{claims['iss']}"[:512],
            )
        ]

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid logout token, or Refused saying why."""
        keys = self.connection.keys
        # Back-Channel Logout 1.0 §2.6: iss and aud are always validated, so without them
        # (and without keys of the OP) every logout token is refused.
        configured = self.connection.issuer and self.connection.audience
        if keys is None or not keys.has_asymmetric_keys or not configured:
            raise Refused("back-channel logout is not configured")
        try:
            typ = jwt.get_unverified_header(token).get("typ")
        except jwt.PyJWTError:
            raise Refused("malformed token") from None
        if typ not in TYPES:
            raise Refused("not a logout token (typ)")
        try:
            claims: dict[str, Any] = keys.decode(
                token,
                audience=self.connection.audience,
                issuer=self.connection.issuer,
                require=["iss", "aud", "iat", "jti", "events"],
                allow_hmac=False,
            )
        except TokenRefused as e:
            raise Refused(str(e)) from None
        check_claims(claims, max_age=self.max_age_s, leeway=self.leeway_s)
        return claims

    def _tenant(self, claims: dict[str, Any]) -> str:
        if self.tenant_claim is None:
            return self.connection.tenant
        try:
            return check.tenant(claims.get(self.tenant_claim, "default"))
        except ValueError as e:
            raise Refused(str(e)) from None

    def _commands(self, claims: dict[str, Any]) -> tuple[Command, ...]:
        sid, sub = claims.get("sid"), claims.get("sub")
        actor, cause = claims["iss"][:255], self.cause(claims["jti"])
        if sid is not None:
            return (EndSession(sid, "logout", actor, cause=cause, user_id=sub),)
        return (EndUserSessions(str(sub), "logout", actor, cause=cause),)

    def answer(self, results: Sequence[Result]) -> Reply:
        """§2.8: 200, not cached."""
        return Reply(200, headers=NO_STORE)

    def refusal(self, error: Refused) -> Reply:
        """§2.8: 400 with an OAuth error body."""
        body = {"error": "invalid_request", "error_description": error.description}
        return Reply(400, orjson.dumps(body), "application/json", NO_STORE)


def logout_token(request: InboundRequest) -> str:
    """The `logout_token` form parameter (§2.5)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != FORM:
        if media.startswith("multipart/"):
            raise Malformed("malformed form body")
        raise Malformed("missing logout_token")
    try:
        form = parse_qs(request.body.decode("utf-8"), strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise Malformed("malformed form body") from None
    values = form.get("logout_token") or [""]
    token = values[0]
    if not token:
        raise Malformed("missing logout_token")
    if len(token) > MAX_TOKEN:
        raise Malformed(f"logout_token longer than {MAX_TOKEN} characters")
    return token


def check_claims(claims: dict[str, Any], *, max_age: int, leeway: int) -> None:
    """§2.6 steps 3-7 beyond the signature: events, nonce, sid/sub, iat."""
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise Refused(f"events claim lacks {EVENT}")
    if "nonce" in claims:
        raise Refused("a logout token must not carry a nonce")
    if claims.get("sid") is None and claims.get("sub") is None:
        raise Refused("a logout token needs sid or sub")
    for name in ("sid", "sub", "jti"):
        value = claims.get(name)
        if value is not None:
            try:
                check.external_id(value, what=name)
            except ValueError as e:
                raise Refused(str(e)) from None
    iat = claims["iat"]
    if not isinstance(iat, int | float) or iat < time.time() - max_age - leeway:
        raise Refused(f"logout token issued more than {max_age} s ago")
    if not isinstance(claims["iss"], str) or not claims["iss"]:
        raise Refused("invalid iss")


def unverified_issuer(request: InboundRequest) -> Any:
    """The `iss` a logout token claims (to pick its connection; verified afterwards)."""
    try:
        return jwt.decode(logout_token(request), options={"verify_signature": False}).get("iss")
    except (Refused, jwt.PyJWTError):
        return None
