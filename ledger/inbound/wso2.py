"""Asgardeo and WSO2 Identity Server webhooks (`kind = "wso2"`), the WSO2 event profile.

Subscription: WebSub's verification of intent (W3C WebSub §5.3), a GET with `hub.mode`,
`hub.topic` and `hub.challenge`, answered 200 with the challenge as `text/plain`.
Deliveries: a JSON SET-like envelope `{iss, jti, iat (ms), rci, events: {uri: payload}}`
signed `sha256=<hex HMAC-SHA256(secret, raw body)>` in `X-Hub-Signature` (Asgardeo) or
`x-wso2-event-signature` (Identity Server); without a valid one: 401, nothing recorded.
`jti` is the replay key (the same occurrence keeps its jti across receivers and retries).
The mapping to ledger commands is in README ("Connections: WSO2"); `action` and
`initiatorType` decide the reason and the actor. Tests: tests/inbound/test_wso2.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from ledger.inbound.commands import (
    Command,
    EndSession,
    ResetPassword,
    RevokeAccount,
    StartOrJoin,
    StartSession,
)
from ledger.inbound.parsing import (
    epoch,
    hmac_hex,
    json_object,
    obj,
    opt_obj,
    opt_text,
    same,
    text,
)
from ledger.inbound.seam import (
    Adapter,
    Connection,
    InboundRequest,
    Malformed,
    Message,
    Refused,
    Reply,
    problem,
)

BASE = "https://schemas.identity.wso2.org/events/"
SIGNATURE_HEADERS = ("x-hub-signature", "x-wso2-event-signature")
USER_ENDS = {
    "user/event-type/userAccountLocked": "account_locked",
    "user/event-type/userDisabled": "account_disabled",
    "user/event-type/userDeleted": "account_deleted",
}
# Flow names (carbon-identity-framework `Flow.Name`) that say why sessions were revoked.
FLOW_REASONS = {
    "LOGOUT": "logout",
    "USER_ACCOUNT_LOCK": "account_locked",
    "USER_ACCOUNT_DISABLE": "account_disabled",
    "USER_ACCOUNT_DELETE": "account_deleted",
}


class Wso2Adapter(Adapter):
    """WSO2 Identity Server / Asgardeo webhooks."""

    kind = "wso2"
    options: ClassVar[frozenset[str]] = frozenset({"on_password_update"})

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        if connection.secret is None:
            raise ValueError("a wso2 connection needs `secret`, `secret_file` or `secret_env`")
        self.on_update = connection.options.get("on_password_update", "ignore")
        if self.on_update not in ("ignore", "reset"):
            raise ValueError('`on_password_update` must be "ignore" or "reset"')

    def challenge(self, request: InboundRequest) -> Reply:
        """WebSub §5.3: echo `hub.challenge` for a subscribe or unsubscribe intent."""
        mode, challenge = request.query.get("hub.mode"), request.query.get("hub.challenge")
        if mode not in ("subscribe", "unsubscribe") or not request.query.get("hub.topic"):
            return problem(400, "Bad request", "expected hub.mode, hub.topic and hub.challenge")
        if not challenge or len(challenge) > 1024:
            return problem(400, "Bad request", "hub.challenge missing or too long")
        return Reply(200, challenge.encode(), "text/plain")

    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message]:
        """Check the signature and the issuer, then map each event of the envelope."""
        self._verify(request)
        envelope = json_object(request.body)
        issuer = text(envelope, "iss")
        if self.connection.issuer is not None and issuer != self.connection.issuer:
            raise Refused(f"unexpected issuer {issuer[:100]!r}")
        jti = text(envelope, "jti", limit=255)
        at = epoch(envelope.get("iat"), what="iat", millis=True)
        events = obj(envelope, "events")
        messages = []
        for uri, payload in events.items():
            if not isinstance(payload, dict):
                raise Malformed(f"event {uri[:100]!r} is not an object")
            event_type = uri.removeprefix(BASE)
            event_id = jti if len(events) == 1 else f"{jti}#{event_type}"
            commands = self._map(event_type, payload, at=at, cause=self.cause(event_id))
            messages.append(Message(event_id, event_type, self.connection.tenant, commands))
        return messages

    def _verify(self, request: InboundRequest) -> None:
        assert self.connection.secret is not None
        given = next((request.headers[h] for h in SIGNATURE_HEADERS if h in request.headers), None)
        if given is None:
            raise Refused("missing X-Hub-Signature / x-wso2-event-signature")
        algorithm, _, digest = given.partition("=")
        expected = hmac_hex(self.connection.secret, request.body)
        if algorithm.strip().lower() != "sha256" or not same(digest, expected):
            raise Refused("bad signature")

    def _map(
        self, event_type: str, payload: Mapping[str, Any], *, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        if event_type == "session/event-type/sessionEstablished":
            return (self._start(payload, at=at),)
        if event_type == "session/event-type/sessionPresented":
            # Activity and SSO into `application`; a session the ledger missed starts here.
            session, user = obj(payload, "session"), obj(payload, "user")
            start = StartSession(
                user_id=text(user, "id"),
                session_id=text(session, "id"),
                at=at,
                ip=opt_text(payload, "initiatorIpAddress", limit=64),
                application=_application(payload),
            )
            return (StartOrJoin(start),)
        if event_type == "session/event-type/sessionRevoked":
            return self._revoked(payload, at=at, cause=cause)
        user_id = text(obj(payload, "user"), "id") if event_type in USER_ENDS else None
        if user_id is not None:
            actor = self._actor(payload, user_id, default="SYSTEM")
            reason = USER_ENDS[event_type]
            return (RevokeAccount(user_id, reason, actor, cause=cause, at=at),)
        if event_type == "credential/event-type/credentialUpdated":
            return self._credential(payload, at=at, cause=cause)
        return ()

    def _start(self, payload: Mapping[str, Any], *, at: datetime) -> StartSession:
        session, user = obj(payload, "session"), obj(payload, "user")
        login = session.get("loginTime")
        return StartSession(
            user_id=text(user, "id"),
            session_id=text(session, "id"),
            at=epoch(login, what="loginTime", millis=True) if login is not None else at,
            ip=opt_text(payload, "initiatorIpAddress", limit=64),
            application=_application(payload),
        )

    def _revoked(
        self, payload: Mapping[str, Any], *, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        user_id = text(obj(payload, "user"), "id")
        sessions = payload.get("sessions")
        if not isinstance(sessions, list) or not all(isinstance(s, dict) for s in sessions):
            raise Malformed("`sessions` must be a list of objects")
        reason = revocation_reason(payload)
        actor = self._actor(payload, user_id, default="USER" if reason == "logout" else "ADMIN")
        return tuple(
            EndSession(text(s, "id"), reason, actor, cause=cause, at=at, user_id=user_id)
            for s in sessions
        )

    def _credential(
        self, payload: Mapping[str, Any], *, at: datetime, cause: str
    ) -> tuple[Command, ...]:
        kind = (opt_text(payload, "credentialType") or "PASSWORD").upper()
        action = (opt_text(payload, "action") or "").upper()
        reset = "RESET" in action
        update = "UPDATE" in action and self.on_update == "reset"
        if kind != "PASSWORD" or not (reset or update):
            return ()  # INVITE (a new user's first password), passkeys, or policy "ignore"
        user_id = text(obj(payload, "user"), "id")
        actor = self._actor(payload, user_id, default="USER")
        return (ResetPassword(user_id, actor, cause=cause, at=at),)

    def _actor(self, payload: Mapping[str, Any], user_id: str, *, default: str) -> str:
        """The user for `USER`, else `<connection>:<initiator>` (WSO2 names no admin)."""
        initiator = (opt_text(payload, "initiatorType", limit=32) or default).upper()
        if initiator == "USER":
            return user_id
        return f"{self.connection.name}:{initiator.lower()}"


def revocation_reason(payload: Mapping[str, Any]) -> str:
    """The ledger's reason for a sessionRevoked, from its `action` (flow) and initiator."""
    action = (opt_text(payload, "action", limit=64) or "").upper()
    initiator = (opt_text(payload, "initiatorType", limit=32) or "").upper()
    if action in FLOW_REASONS:
        return FLOW_REASONS[action]
    if "RESET" in action:
        return "password_reset"
    if action == "SESSION_REVOKE":
        return "user_terminated" if initiator == "USER" else "admin_terminated"
    return "admin_terminated" if initiator in ("ADMIN", "SYSTEM") else "logout"


def _application(payload: Mapping[str, Any]) -> dict[str, str] | None:
    app = opt_obj(payload, "application")
    if app is None or not isinstance(app.get("id"), str) or not app["id"]:
        return None
    name = app.get("name")
    return {"id": app["id"], "name": name if isinstance(name, str) and name else app["id"]}
