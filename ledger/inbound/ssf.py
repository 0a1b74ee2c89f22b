"""Shared Signals receiver (`kind = "ssf"`): RFC 8935 push of SETs carrying CAEP and RISC events.

The transmitter POSTs one SET (`application/secevent+jwt`, RFC 8935 §2.2): a JWS with
`typ: secevent+jwt` (SSF 1.0 §4), verified against the connection's keys, `issuer` and
`audience`; with `secret`, the request must also carry `Authorization: Bearer <secret>` (the
stream's `authorization_header`). Success is `202 Accepted` with no body; any failure is a
400 with `{"err", "description"}` and an error code of RFC 8935 §2.4 (`invalid_request`,
`invalid_key`, `invalid_issuer`, `invalid_audience`, `authentication_failed`). The SET's
`jti` is the replay key. Subjects: `sub_id` (or an event's legacy `subject`), simple
(`opaque`, `iss_sub`, `email`) or `complex` with `user` and `session` members (RFC 9493,
SSF §3). The SSF verification event is acknowledged. The mapping is in README
("Connections: Shared Signals"). Tests: tests/inbound/test_ssf.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import jwt
import orjson

from ledger.aggregates.rules import TerminationReason
from ledger.api.keys import TokenRefused
from ledger.inbound.commands import (
    Command,
    EndSession,
    EndUserSessions,
    RecordActivity,
    ResetPassword,
    RevokeAccount,
    StartSession,
)
from ledger.inbound.parsing import epoch, same
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

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
MEDIA = "application/secevent+jwt"
MAX_SET = 16 * 1024
RISC_REVOKES = {"account-disabled": "account_disabled", "account-purged": "account_deleted"}
# CAEP §2 initiating_entity -> the reason of a session-revoked that names none of ours.
INITIATORS = {"user": "user_terminated", "admin": "admin_terminated"}
ERRORS = {
    "token from another issuer": "invalid_issuer",
    "token not meant for this audience": "invalid_audience",
}


class SsfAdapter(Adapter):
    """An SSF transmitter's push stream (RFC 8935)."""

    kind = "ssf"
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        if connection.keys is None:
            raise ValueError("an ssf connection needs `jwks_file` or `jwks_url`")
        if connection.issuer is None or connection.audience is None:
            raise ValueError("an ssf connection needs `issuer` and `audience`")

    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message]:
        """RFC 8935 §2.3-2.4: authenticate, validate the SET, then map its events."""
        self._authenticate(request)
        claims = self._verify(self._token(request))
        jti = claims["jti"]
        events = claims["events"]
        if not isinstance(events, dict) or not events:
            raise Malformed("`events` must be a non-empty object")
        subject = claims.get("sub_id")
        at = epoch(claims["iat"], what="iat", millis=False)
        messages = []
        for uri, event in events.items():
            if not isinstance(event, dict):
                raise Malformed(f"event {str(uri)[:100]!r} is not an object")
            event_id = jti if len(events) == 1 else f"{jti}#{uri}"
            found = event.get("subject", subject)
            commands = self._map(uri, event, subject=found, at=at, cause=self.cause(event_id))
            messages.append(Message(event_id, uri, self.connection.tenant, commands))
        return messages

    def _authenticate(self, request: InboundRequest) -> None:
        secret = self.connection.secret
        if secret is None:
            return
        given = request.headers.get("authorization", "")
        if not same(given, f"Bearer {secret.decode()}"):
            raise Refused("missing or wrong Authorization", code="authentication_failed")

    def _token(self, request: InboundRequest) -> str:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != MEDIA:  # RFC 8935 §2.2
            raise Malformed(f"Content-Type must be {MEDIA}")
        if len(request.body) > MAX_SET:
            raise Malformed("SET too large")
        try:
            token = request.body.decode("ascii").strip()
            header = jwt.get_unverified_header(token)
        except (UnicodeDecodeError, jwt.PyJWTError):
            raise Malformed("the body is not a compact JWS") from None
        if header.get("typ") != "secevent+jwt":  # SSF 1.0 §4 (explicit typing, RFC 8417 §2.3)
            raise Malformed("the SET's typ must be secevent+jwt")
        return token

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = self.connection.keys.decode(
                token,
                audience=self.connection.audience,
                issuer=self.connection.issuer,
                require=["iss", "aud", "iat", "jti", "events"],
                allow_hmac=False,
            )
        except TokenRefused as e:
            code = ERRORS.get(str(e), "invalid_key")
            if "lacks" in str(e) or "malformed" in str(e):
                code = "invalid_request"
            raise Refused(str(e), code=code) from None
        if not isinstance(claims["jti"], str) or not claims["jti"] or len(claims["jti"]) > 255:
            raise Malformed("`jti` must be a string")
        return claims

    def _map(  # noqa: PLR0911 - one return per mapped event type, read as a table
        self, uri: str, event: Mapping[str, Any], *, subject: Any, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        when = _timestamp(event) or at
        user, session = subjects(subject, session_first=uri == CAEP + "session-revoked")
        initiator = str(event.get("initiating_entity") or "")
        actor = (
            user
            if initiator == "user" and user
            else f"{self.connection.name}:{initiator or 'system'}"
        )
        if uri == CAEP + "session-revoked":
            reason = revoked_reason(event)
            if session is not None:
                return (EndSession(session, reason, actor, cause=cause, at=when, user_id=user),)
            if user is not None:
                return (EndUserSessions(user, reason, actor, cause=cause, at=when),)
        elif uri == CAEP + "session-established" and user and session:
            return (StartSession(user, session_id=session, at=when),)
        elif uri == CAEP + "session-presented" and session:
            return (RecordActivity(session, at=when),)
        elif uri == CAEP + "credential-change" and user and _password_changed(event):
            return (ResetPassword(user, actor, cause=cause, at=when),)
        elif uri.startswith(RISC) and user:
            name = uri.removeprefix(RISC)
            if name in RISC_REVOKES:
                return (RevokeAccount(user, RISC_REVOKES[name], actor, cause=cause, at=when),)
            if name == "credential-compromise":
                return (EndUserSessions(user, "password_reset", actor, cause=cause, at=when),)
        return ()

    def answer(self, results: Sequence[Result]) -> Reply:
        """RFC 8935 §2.2: 202 Accepted, no body."""
        return Reply(202)

    def refusal(self, error: Refused) -> Reply:
        """RFC 8935 §2.4: 400 with `{"err", "description"}`."""
        body = {"err": error.code, "description": error.description}
        return Reply(400, orjson.dumps(body), "application/json")


def subjects(subject: Any, *, session_first: bool) -> tuple[str | None, str | None]:
    """The (user id, session id) a subject identifier names (RFC 9493; SSF §3)."""
    if not isinstance(subject, dict):
        return None, None
    if subject.get("format") == "complex" or "format" not in subject:
        return _simple(subject.get("user")), _simple(subject.get("session"))
    value = _simple(subject)
    if subject.get("format") == "opaque" and session_first:
        return None, value  # CAEP §3.1: an opaque subject of session-revoked is the session
    return value, None


def _simple(subject: Any) -> str | None:
    if not isinstance(subject, dict):
        return None
    key = {"opaque": "id", "iss_sub": "sub", "email": "email"}.get(str(subject.get("format")))
    value = subject.get(key) if key else None
    return value if isinstance(value, str) and value else None


def revoked_reason(event: Mapping[str, Any]) -> str:
    """A session-revoked's reason: the ledger's own `reason_code` when it carries one, else
    from `initiating_entity` (a "logout" in the user's reason text is a logout)."""
    code = event.get("reason_code")
    if isinstance(code, str) and code in {r.value for r in TerminationReason}:
        return code
    initiator = event.get("initiating_entity")
    texts = event.get("reason_user")
    text = " ".join(str(v) for v in texts.values()).lower() if isinstance(texts, dict) else ""
    if initiator == "user" and ("logout" in text or "log out" in text or "logged out" in text):
        return "logout"
    return INITIATORS.get(str(initiator), "admin_terminated")


def _password_changed(event: Mapping[str, Any]) -> bool:
    """CAEP §3.3: a password updated, revoked or deleted (not a new credential created)."""
    return event.get("credential_type") == "password" and event.get("change_type") in (
        "update",
        "revoke",
        "delete",
    )


def _timestamp(event: Mapping[str, Any]) -> datetime | None:
    value = event.get("event_timestamp")  # CAEP §2: seconds
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 2**33:
        return datetime.fromtimestamp(value, UTC)
    return None
