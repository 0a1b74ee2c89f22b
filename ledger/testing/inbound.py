"""Hypothesis strategies for what each inbound connection's identity provider sends.

`Sender.make(kind)` holds one IdP's key material and writes its connection (`connection(dir)`:
the `[[connection]]` TOML, plus the JWKS or certificate file it names). `messages(sender,
model, now)` draws one story step that fits the model and the HTTP request that IdP would send
for it (`InboundMessage`: the step, the path suffix under `/v1/inbound/{name}`, headers, body),
shaped like the vendors' documented examples and signed as the sender signs: `wso2` HMAC-SHA256
`X-Hub-Signature`, `keycloak` `X-Keycloak-Signature`, `ssf` an RS256 SET (RFC 8417, RFC 8935
§2.2), `oidc` an RS256 logout token (Back-Channel Logout 1.0 §2.4), `saml` an RSA-SHA256
enveloped-signed `LogoutRequest` (SAML Core §3.7.1) in a SOAP envelope (Bindings §3.2).
What each kind can say: `KIND_STEPS`. The times of `oidc` and `saml` steps are `now` (those
messages carry none; the ledger stamps them on arrival). Needs hypothesis.
Tests: tests/testing_kit/test_inbound_strategies.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import strategies as st
from lxml import etree
from signxml import SignatureMethod
from signxml.signer import XMLSigner

from ledger.config import DEFAULT_IDLE_TIMEOUT_S, DEFAULT_MAX_LIFETIME_S
from ledger.testing.model import Model
from ledger.testing.story import End, PasswordReset, Revoke, Start, Step

KIND_STEPS: dict[str, tuple[str, ...]] = {
    "wso2": ("start", "logout", "admin_end", "reset", "revoke"),
    "keycloak": ("start", "logout", "admin_end", "reset", "revoke"),
    "ssf": ("start", "logout", "admin_end", "reset", "revoke"),
    "oidc": ("logout",),
    "saml": ("logout",),
}
"""The steps each kind's messages can carry (`oidc` and `saml` only end sessions)."""
WSO2 = "https://schemas.identity.wso2.org/events/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
BCL = "http://schemas.openid.net/event/backchannel-logout"
SAMLP, SAML = "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:2.0:assertion"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
USERS = ("1801d35e-1339-4c16-9c53-61321cf37fb9", "88251cc6-7408-4b31-a4c7-b2840d99b916")
APPS = (None, "eb395ddd-1280-46e9-98fb-810948c1dab4")


@dataclass(frozen=True)
class InboundMessage:
    """A request to POST to `/v1/inbound/{name}{path}`, and the story step it means."""

    step: Step
    headers: dict[str, str]
    body: bytes
    path: str = ""


@dataclass(frozen=True)
class Sender:
    """One identity provider of `kind`: its connection's name, tenant, secret and keys."""

    kind: str
    name: str
    tenant: str = "acme"
    issuer: str = "https://idp.example.test"
    audience: str = "https://ledger.example.test"
    secret: str = field(default_factory=lambda: uuid.uuid4().hex)
    key: rsa.RSAPrivateKey = field(default_factory=lambda: _new_key())
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @classmethod
    def make(cls, kind: str, *, name: str | None = None, tenant: str = "acme") -> Sender:
        """A sender of `kind` with fresh keys; the connection is named `name` (default kind)."""
        if kind not in KIND_STEPS:
            raise ValueError(f"kind must be one of {', '.join(KIND_STEPS)}")
        return cls(kind, name or kind, tenant)

    def jwks(self) -> dict[str, Any]:
        """The public JWKS the connection verifies `ssf` and `oidc` tokens with."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [public | {"kid": self.kid, "alg": "RS256", "use": "sig"}]}

    @cached_property
    def certificate(self) -> str:
        """A self-signed certificate (PEM) of the key: a `saml` IdP's signing certificate."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.test")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )  # fmt: skip
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    def connection(self, directory: Path) -> str:
        """The `[[connection]]` TOML; writes the JWKS or certificate it names into `directory`."""
        lines = [f'name = "{self.name}"', f'kind = "{self.kind}"', f'tenant = "{self.tenant}"']
        if self.kind in ("wso2", "keycloak"):
            lines.append(f'secret = "{self.secret}"')
        if self.kind in ("wso2", "ssf", "oidc", "saml"):
            lines.append(f'issuer = "{self.issuer}"')
        if self.kind in ("ssf", "oidc"):
            path = directory / f"{self.name}-jwks.json"
            path.write_text(json.dumps(self.jwks()))
            lines += [f'audience = "{self.audience}"', f'jwks_file = "{path}"']
        if self.kind == "saml":
            path = directory / f"{self.name}-idp.pem"
            path.write_text(self.certificate)
            lines += [f'audience = "{self.audience}"', f'idp_certificate_file = "{path}"']
        return "[[connection]]\n" + "\n".join(lines) + "\n"

    @cached_property
    def pem(self) -> bytes:
        """The private key, PEM (PKCS#8)."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@st.composite
def messages(
    draw: st.DrawFn,
    sender: Sender,
    model: Model,
    now: datetime,
    *,
    idle: int = DEFAULT_IDLE_TIMEOUT_S,
    max_life: int = DEFAULT_MAX_LIFETIME_S,
) -> InboundMessage:
    """One message of `sender` after `now` that the ledger accepts, given the story `model` saw.

    `idle` and `max_life` are the ledger's default limits (IdPs send none with a login).
    `oidc` and `saml` messages only end sessions: with none open in the sender's tenant they
    raise ValueError (start sessions another way first, e.g. `Sandbox.play(Start(...))`).
    """
    at = now.replace(microsecond=0) + timedelta(seconds=draw(st.integers(1, 600)))
    if sender.kind in ("oidc", "saml"):
        at = now
    step, user = draw(_steps(sender, model, at, idle=idle, max_life=max_life))
    return BUILDERS[sender.kind](sender, step, user)


@st.composite
def _steps(
    draw: st.DrawFn, sender: Sender, model: Model, at: datetime, *, idle: int, max_life: int
) -> tuple[Step, str]:
    """A step of `sender`'s kind and the user it concerns (an `End` names only a session)."""
    tenant = sender.tenant
    open_ = sorted(s.sid for (t, _), s in model.sessions.items() if t == tenant and s.active_at(at))
    kinds = [k for k in KIND_STEPS[sender.kind] if open_ or k not in ("logout", "admin_end")]
    if not kinds:
        raise ValueError(f"{sender.kind} messages only end sessions: start one first")
    kind = draw(st.sampled_from(kinds))
    user = draw(st.sampled_from(USERS))
    admin = f"{sender.name}:admin"
    if kind == "start":
        taken = {sid for (t, sid) in model.sessions if t == tenant}
        sid = draw(st.uuids().map(str).filter(lambda s: s not in taken))
        app = None if sender.kind == "ssf" else draw(st.sampled_from(APPS))
        ip = None if sender.kind == "ssf" else draw(st.sampled_from((None, "203.0.113.10")))
        return Start(tenant, user, sid, at, app, ip, idle, max_life), user
    if kind in ("logout", "admin_end"):
        sid = draw(st.sampled_from(open_))
        owner = model.sessions[(tenant, sid)].user
        if kind == "logout":
            actor = sender.issuer if sender.kind in ("oidc", "saml") else owner
            return End(tenant, sid, at, "logout", actor), owner
        if sender.kind == "keycloak":
            admin = "a6c2d0f4-0b8e-4a6e-9d3c-2f7f1e3c9b10"  # the admin's user id
        return End(tenant, sid, at, "admin_terminated", admin), owner
    if kind == "reset":
        own = [s.sid for s in model.sessions.values() if s.user == user and s.sid in open_]
        keep = draw(st.sampled_from([None, *own])) if sender.kind == "keycloak" else None
        return PasswordReset(tenant, user, at, user, keep), user
    reason = "account_disabled" if sender.kind == "ssf" else "account_locked"
    return Revoke(tenant, user, at, reason, f"{sender.name}:system"), user


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _wso2_event(sender: Sender, step: Step, user: str) -> tuple[str, dict[str, Any]]:
    """The event URI and payload (WSO2's documented event payloads)."""
    who = {"id": user, "ref": f"{sender.issuer}/scim2/Users/{user}"}
    base = {"user": who, "tenant": {"id": "12402", "name": sender.tenant},
            "userStore": {"id": "UFJJTUFSWQ==", "name": "PRIMARY"}}  # fmt: skip
    if isinstance(step, Start):
        app = {"id": step.app, "name": step.app} if step.app else None
        session = {"id": step.session, "loginTime": _ms(step.at),
                   "applications": [app] if app else []}  # fmt: skip
        extra = {"initiatorIpAddress": step.ip} if step.ip else {}
        body = base | extra | {"session": session} | ({"application": app} if app else {})
        return "session/event-type/sessionEstablished", body
    if isinstance(step, End):
        user_side = step.reason == "logout"
        return "session/event-type/sessionRevoked", base | {
            "initiatorType": "USER" if user_side else "ADMIN",
            "action": "LOGOUT" if user_side else "SESSION_REVOKE",
            "sessions": [{"id": step.session, "loginTime": _ms(step.at)}],
        }
    if isinstance(step, PasswordReset):
        return "credential/event-type/credentialUpdated", base | {
            "initiatorType": "USER", "credentialType": "PASSWORD", "action": "RESET",
        }  # fmt: skip
    return "user/event-type/userAccountLocked", base | {"initiatorType": "SYSTEM"}


def _wso2(sender: Sender, step: Step, user: str) -> InboundMessage:
    """An Asgardeo / WSO2 IS envelope, `X-Hub-Signature: sha256=<hex HMAC-SHA256>`."""
    uri, payload = _wso2_event(sender, step, user)
    envelope = {"iss": sender.issuer, "jti": str(uuid.uuid4()), "iat": _ms(step.at),
                "rci": str(uuid.uuid4()), "events": {WSO2 + uri: payload}}  # fmt: skip
    body = json.dumps(envelope).encode()
    digest = hmac.new(sender.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}
    return InboundMessage(step, headers, body)


def _keycloak(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A p2-inc ext-event-webhook event, `X-Keycloak-Signature: <hex HMAC-SHA256>`."""
    auth: dict[str, Any] = {"realmId": sender.tenant, "clientId": "account", "userId": user}
    event: dict[str, Any] = {"time": _ms(step.at), "realmId": sender.tenant,
                             "uid": str(uuid.uuid4()), "authDetails": auth, "details": {}}  # fmt: skip
    if isinstance(step, Start):
        auth |= {"sessionId": step.session, "clientId": step.app or "account"}
        auth |= {"ipAddress": step.ip} if step.ip else {}
        event["type"] = "access.LOGIN"
        if step.app is None:
            del auth["clientId"]
    elif isinstance(step, End) and step.reason == "logout":
        event |= {"type": "access.LOGOUT", "details": {"redirect_uri": "https://app.example"}}
        auth["sessionId"] = step.session
    elif isinstance(step, End):
        auth |= {"realmId": "master", "clientId": "security-admin-console", "userId": step.actor}
        event |= {"type": "admin.USER_SESSION-DELETE", "resourceType": "USER_SESSION",
                  "operationType": "DELETE", "resourcePath": f"sessions/{step.session}",
                  "representation": '{"offline":false}'}  # fmt: skip
    elif isinstance(step, PasswordReset):
        event["type"] = "access.UPDATE_PASSWORD"
        auth |= {"sessionId": step.keep} if step.keep else {}
    else:
        event |= {"type": "access.USER_DISABLED_BY_PERMANENT_LOCKOUT"}
    body = json.dumps(event).encode()
    digest = hmac.new(sender.secret.encode(), body, hashlib.sha256).hexdigest()
    return InboundMessage(step, {"Content-Type": "application/json",
                                 "X-Keycloak-Signature": digest}, body)  # fmt: skip


def _ssf(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A SET (RFC 8417) with a CAEP or RISC event, pushed as RFC 8935 §2.2 says."""
    user = {"format": "iss_sub", "iss": sender.issuer, "sub": user}
    seconds = int(step.at.timestamp())
    event: dict[str, Any] = {"event_timestamp": seconds}
    subject: dict[str, Any] = user
    if isinstance(step, Start | End):
        session = {"format": "opaque", "id": step.session}
        subject = {"format": "complex", "user": user, "session": session}
    if isinstance(step, Start):
        uri = CAEP + "session-established"
    elif isinstance(step, End):
        uri = CAEP + "session-revoked"
        by_user = step.reason == "logout"
        event |= {"initiating_entity": "user" if by_user else "admin",
                  "reason_user": {"en": "The user logged out." if by_user else "Ended."}}  # fmt: skip
    elif isinstance(step, PasswordReset):
        uri = CAEP + "credential-change"
        event |= {"credential_type": "password", "change_type": "update",
                  "initiating_entity": "user"}  # fmt: skip
    else:
        uri, event = RISC + "account-disabled", {"reason": "hijacking"}
    claims = {"iss": sender.issuer, "jti": uuid.uuid4().hex, "iat": seconds,
              "aud": sender.audience, "sub_id": subject, "events": {uri: event}}  # fmt: skip
    headers = {"kid": sender.kid, "typ": "secevent+jwt"}
    token = jwt.encode(claims, sender.pem, algorithm="RS256", headers=headers)
    return InboundMessage(step, {"Content-Type": "application/secevent+jwt"}, token.encode())


def _oidc(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A logout token (Back-Channel Logout 1.0 §2.4), form-posted as §2.5 says."""
    assert isinstance(step, End)
    now = int(time.time())  # §2.6: iat is checked against the real time
    claims = {"iss": sender.issuer, "aud": sender.audience, "iat": now, "exp": now + 120,
              "jti": uuid.uuid4().hex, "sid": step.session, "events": {BCL: {}}}  # fmt: skip
    headers = {"kid": sender.kid, "typ": "logout+jwt"}
    token = jwt.encode(claims, sender.pem, algorithm="RS256", headers=headers)
    body = urlencode({"logout_token": token}).encode()
    return InboundMessage(step, {"Content-Type": "application/x-www-form-urlencoded"}, body)


def _saml(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A signed `<samlp:LogoutRequest>` (Core §3.7.1) in a SOAP 1.1 envelope (Bindings §3.2)."""
    assert isinstance(step, End)
    request = etree.Element(f"{{{SAMLP}}}LogoutRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    instant = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request.attrib.update({"ID": f"_{uuid.uuid4().hex}", "Version": "2.0",
                           "IssueInstant": instant, "Destination": sender.audience})  # fmt: skip
    etree.SubElement(request, f"{{{SAML}}}Issuer").text = sender.issuer
    etree.SubElement(request, f"{{{SAML}}}NameID").text = user
    etree.SubElement(request, f"{{{SAMLP}}}SessionIndex").text = step.session
    # Core §5.4.3-5.4.4: exclusive c14n (the envelope's namespaces stay out of the digest)
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, c14n_algorithm=EXC_C14N)
    signed = signer.sign(request, key=sender.pem, cert=sender.certificate)
    body = (f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'.encode()
            + etree.tostring(signed) + b"</soap:Body></soap:Envelope>")  # fmt: skip
    return InboundMessage(step, {"Content-Type": "text/xml"}, body)


BUILDERS = {"wso2": _wso2, "keycloak": _keycloak, "ssf": _ssf, "oidc": _oidc, "saml": _saml}
