"""Keycloak event webhooks (`kind = "keycloak"`): p2-inc's `ext-event-webhook` payload.

One JSON event per request: `uid` (the replay key), `time` (ms), `type` = `access.<EventType>`
or `admin.<RESOURCE_TYPE>-<OPERATION>`, `authDetails{userId, sessionId, clientId, ipAddress}`,
admin events' `resourcePath` and `representation`. Signed either with `X-Keycloak-Signature`
= hex HMAC of the body (HmacSHA256, or HmacSHA1 with `hmac_algorithm`), or with
`Authorization: Bearer <JWT>` signed by the realm's key (`jwks_url`/`jwks_file`, `issuer`,
`audience`) whose `request_body_sha256` is the body's SHA-256 (p2-inc WebhookJwtSigner).
Events with an `error` and types the ledger does not use are acknowledged and counted.
The mapping is in README ("Connections: Keycloak"). Tests: tests/inbound/test_keycloak.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import orjson

from ledger.api.keys import TokenRefused
from ledger.inbound.commands import (
    Command,
    EndSession,
    EndUserSessions,
    RecordActivity,
    ResetPassword,
    RevokeAccount,
    StartOrJoin,
    StartSession,
)
from ledger.inbound.parsing import epoch, hmac_hex, json_object, opt_obj, opt_text, same
from ledger.inbound.seam import Adapter, Connection, InboundRequest, Malformed, Message, Refused

DIGESTS = {"HmacSHA256": "sha256", "HmacSHA1": "sha1"}
ACTIVITY = frozenset({"CODE_TO_TOKEN", "REFRESH_TOKEN"})
PASSWORD = frozenset({"UPDATE_PASSWORD", "RESET_PASSWORD"})
LOCKOUTS = frozenset({"USER_DISABLED_BY_PERMANENT_LOCKOUT", "USER_DISABLED_BY_TEMPORARY_LOCKOUT"})
SESSION_PATH = re.compile(r"^sessions/([^/]+)$")
USER_PATH = re.compile(r"^users/([^/]+)(?:/(logout|reset-password))?$")


class KeycloakAdapter(Adapter):
    """Keycloak's user and admin events through `ext-event-webhook`."""

    kind = "keycloak"
    options: ClassVar[frozenset[str]] = frozenset({"hmac_algorithm", "realm", "expiry_reason"})

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        if connection.secret is None and connection.keys is None:
            raise ValueError("a keycloak connection needs a secret (hmac) or jwks (bearer)")
        if connection.keys is not None and connection.issuer is None:
            raise ValueError("bearer mode needs `issuer` (the realm's issuer URL)")
        algorithm = connection.options.get("hmac_algorithm", "HmacSHA256")
        if algorithm not in DIGESTS:
            raise ValueError("`hmac_algorithm` must be HmacSHA256 or HmacSHA1")
        self.digest = DIGESTS[algorithm]
        self.realm = connection.options.get("realm")
        self.expiry = connection.options.get("expiry_reason", "idle_timeout")
        if self.expiry not in ("idle_timeout", "max_lifetime"):
            raise ValueError('`expiry_reason` must be "idle_timeout" or "max_lifetime"')

    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message]:
        """Verify the signature or bearer token, then map the one event."""
        self._verify(request)
        event = json_object(request.body)
        event_id = opt_text(event, "uid", limit=255) or opt_text(event, "id", limit=255)
        if event_id is None:
            raise Malformed("the event has neither `uid` nor `id`")
        event_type = opt_text(event, "type", limit=128) or ""
        details = opt_obj(event, "authDetails") or {}
        if self.realm is not None and self.realm not in (
            event.get("realmName"),
            event.get("realmId"),
            details.get("realmId"),
        ):
            raise Refused("the event is from another realm")
        at = epoch(event.get("time"), what="time", millis=True)
        commands: tuple[Command, ...] = ()
        if not event.get("error"):
            cause = self.cause(event_id)
            if event_type.startswith("access."):
                commands = self._access(event_type[7:], event, at=at, cause=cause)
            elif event_type.startswith("admin."):
                commands = self._admin(event, at=at, cause=cause)
        return [Message(event_id, event_type, self.connection.tenant, commands)]

    def _verify(self, request: InboundRequest) -> None:
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and self.connection.keys is not None:
            self._verify_bearer(bearer[7:].strip(), request.body)
            return
        given = request.headers.get("x-keycloak-signature")
        if self.connection.secret is None or given is None:
            raise Refused("missing X-Keycloak-Signature (or Authorization: Bearer)")
        if not same(given, hmac_hex(self.connection.secret, request.body, digest=self.digest)):
            raise Refused("bad signature")

    def _verify_bearer(self, token: str, body: bytes) -> None:
        try:
            claims = self.connection.keys.decode(
                token,
                audience=self.connection.audience,
                issuer=self.connection.issuer,
                require=["iss", "iat", "exp", "request_body_sha256"],
                allow_hmac=False,
            )
        except TokenRefused as e:
            raise Refused(str(e)) from None
        digest = claims.get("request_body_sha256")
        if not isinstance(digest, str) or not same(digest, hashlib.sha256(body).hexdigest()):
            raise Refused("request_body_sha256 does not match the body")

    def _access(  # noqa: PLR0911 - one return per mapped event type, read as a table
        self, name: str, event: Mapping[str, Any], *, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        auth = opt_obj(event, "authDetails") or {}
        user = opt_text(auth, "userId") or opt_text(event, "userId")
        sid = opt_text(auth, "sessionId") or opt_text(event, "sessionId")
        ip = opt_text(auth, "ipAddress", limit=64)
        details = opt_obj(event, "details") or {}
        if user is None:
            return ()
        if name == "LOGIN" and sid is not None:
            client = opt_text(auth, "clientId")
            app = {"id": client, "name": client} if client else None
            start = StartSession(user, session_id=sid, at=at, ip=ip, application=app)
            return (StartOrJoin(start),)
        if name in ACTIVITY and sid is not None:
            return (RecordActivity(sid, at=at, ip=ip),)
        if name == "LOGOUT" and sid is not None:
            return (EndSession(sid, "logout", user, cause=cause, at=at, user_id=user),)
        if name == "USER_SESSION_DELETED" and sid is not None:
            expired = details.get("reason") == "expired"
            reason, actor = (self.expiry, "system") if expired else ("admin_terminated", user)
            return (EndSession(sid, reason, actor, cause=cause, at=at, user_id=user),)
        credential = str(details.get("credential_type", "password")).lower()
        if name in PASSWORD or (name == "UPDATE_CREDENTIAL" and credential == "password"):
            return (ResetPassword(user, user, cause=cause, at=at, keep_session_id=sid),)
        if name in LOCKOUTS:
            actor = f"{self.connection.name}:system"
            return (RevokeAccount(user, "account_locked", actor, cause=cause, at=at),)
        if name == "DELETE_ACCOUNT":
            return (RevokeAccount(user, "account_deleted", user, cause=cause, at=at),)
        return ()

    def _admin(  # noqa: PLR0911 - one return per mapped event type
        self, event: Mapping[str, Any], *, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        auth = opt_obj(event, "authDetails") or {}
        admin = opt_text(auth, "userId") or f"{self.connection.name}:admin"
        resource, operation = event.get("resourceType"), event.get("operationType")
        path = opt_text(event, "resourcePath", limit=1024) or ""
        session = SESSION_PATH.match(path)
        if resource == "USER_SESSION" and operation == "DELETE" and session:
            return (EndSession(session[1], "admin_terminated", admin, cause=cause, at=at),)
        user = USER_PATH.match(path)
        if resource != "USER" or user is None:
            return ()
        uid, action = user[1], user[2]
        if operation == "ACTION" and action == "logout":
            return (EndUserSessions(uid, "admin_terminated", admin, cause=cause, at=at),)
        if operation == "ACTION" and action == "reset-password":
            return (ResetPassword(uid, admin, cause=cause, at=at),)
        if operation == "DELETE" and action is None:
            return (RevokeAccount(uid, "account_deleted", admin, cause=cause, at=at),)
        if operation == "UPDATE" and action is None and _disabled(event):
            return (RevokeAccount(uid, "account_disabled", admin, cause=cause, at=at),)
        return ()


def _disabled(event: Mapping[str, Any]) -> bool:
    """True when an admin USER-UPDATE's representation says `enabled: false`."""
    representation = event.get("representation")
    if isinstance(representation, str):
        try:
            representation = orjson.loads(representation)
        except orjson.JSONDecodeError:
            return False
    return isinstance(representation, dict) and representation.get("enabled") is False
