"""What each inbound connection's identity provider sends, signed as it signs.

`Sender.make(kind)` holds one IdP's key material and writes its connection (`connection(dir)`:
the `[[connection]]` TOML, plus the JWKS or certificate file it names). `BUILDERS[kind](sender,
step, user)` turns a story step into the HTTP request that IdP sends (`InboundMessage`), shaped
like the vendors' documented examples: `wso2` an Asgardeo / WSO2 IS event envelope with
`X-Hub-Signature: sha256=<hex HMAC-SHA256>`, `keycloak` a p2-inc ext-event-webhook event with
`X-Keycloak-Signature`, `ssf` an RS256 SET (RFC 8417) pushed as RFC 8935 §2.2 says, `oidc` an
RS256 logout token (Back-Channel Logout 1.0 §2.4-2.5), `saml` an RSA-SHA256 enveloped-signed
`LogoutRequest` (SAML Core §3.7.1, signed with signxml) in a SOAP 1.1 envelope (Bindings §3.2).
The strategies choosing the steps are in `ledger.testing.inbound`.
Tests: tests/testing_kit/test_inbound_strategies.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
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
from lxml import etree
from signxml.algorithms import SignatureMethod
from signxml.signer import XMLSigner

from ledger.testing.story import End, PasswordReset, Start, Step

WSO2 = "https://schemas.identity.wso2.org/events/"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
BCL = "http://schemas.openid.net/event/backchannel-logout"
SAMLP, SAML = "urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:2.0:assertion"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
KINDS = ("wso2", "keycloak", "ssf", "oidc", "saml")
"""The connection kinds with a sender."""


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


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
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    @classmethod
    def make(cls, kind: str, *, name: str | None = None, tenant: str = "acme") -> Sender:
        """A sender of `kind` with fresh keys; the connection is named `name` (default kind)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
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
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(self.key, hashes.SHA256())
        )
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


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _wso2_event(sender: Sender, step: Step, user: str) -> tuple[str, dict[str, Any]]:
    """The event URI and payload (WSO2's documented event payloads)."""
    who = {"id": user, "ref": f"{sender.issuer}/scim2/Users/{user}"}
    base = {
        "user": who,
        "tenant": {"id": "12402", "name": sender.tenant},
        "userStore": {"id": "UFJJTUFSWQ==", "name": "PRIMARY"},
    }
    if isinstance(step, Start):
        app = {"id": step.app, "name": step.app} if step.app else None
        session = {
            "id": step.session,
            "loginTime": _ms(step.at),
            "applications": [app] if app else [],
        }
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
            "initiatorType": "USER",
            "credentialType": "PASSWORD",
            "action": "RESET",
        }
    return "user/event-type/userAccountLocked", base | {"initiatorType": "SYSTEM"}


def _wso2(sender: Sender, step: Step, user: str) -> InboundMessage:
    """An Asgardeo / WSO2 IS envelope, `X-Hub-Signature: sha256=<hex HMAC-SHA256>`."""
    uri, payload = _wso2_event(sender, step, user)
    envelope = {
        "iss": sender.issuer,
        "jti": str(uuid.uuid4()),
        "iat": _ms(step.at),
        "rci": str(uuid.uuid4()),
        "events": {WSO2 + uri: payload},
    }
    body = json.dumps(envelope).encode()
    digest = hmac.new(sender.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hub-Signature": f"sha256={digest}"}
    return InboundMessage(step, headers, body)


def _keycloak(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A p2-inc ext-event-webhook event, `X-Keycloak-Signature: <hex HMAC-SHA256>`."""
    auth: dict[str, Any] = {"realmId": sender.tenant, "clientId": "account", "userId": user}
    event: dict[str, Any] = {
        "time": _ms(step.at),
        "realmId": sender.tenant,
        "uid": str(uuid.uuid4()),
        "authDetails": auth,
        "details": {},
    }
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
        event |= {
            "type": "admin.USER_SESSION-DELETE",
            "resourceType": "USER_SESSION",
            "operationType": "DELETE",
            "resourcePath": f"sessions/{step.session}",
            "representation": '{"offline":false}',
        }
    elif isinstance(step, PasswordReset):
        event["type"] = "access.UPDATE_PASSWORD"
        auth |= {"sessionId": step.keep} if step.keep else {}
    else:
        event |= {"type": "access.USER_DISABLED_BY_PERMANENT_LOCKOUT"}
    body = json.dumps(event).encode()
    digest = hmac.new(sender.secret.encode(), body, hashlib.sha256).hexdigest()
    return InboundMessage(
        step, {"Content-Type": "application/json", "X-Keycloak-Signature": digest}, body
    )


def _ssf(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A SET (RFC 8417) with a CAEP or RISC event, pushed as RFC 8935 §2.2 says."""
    who = {"format": "iss_sub", "iss": sender.issuer, "sub": user}
    seconds = int(step.at.timestamp())
    event: dict[str, Any] = {"event_timestamp": seconds}
    subject: dict[str, Any] = who
    if isinstance(step, Start | End):
        session = {"format": "opaque", "id": step.session}
        subject = {"format": "complex", "user": who, "session": session}
    if isinstance(step, Start):
        uri = CAEP + "session-established"
    elif isinstance(step, End):
        uri = CAEP + "session-revoked"
        by_user = step.reason == "logout"
        event |= {
            "initiating_entity": "user" if by_user else "admin",
            "reason_user": {"en": "The user logged out." if by_user else "Ended."},
        }
    elif isinstance(step, PasswordReset):
        uri = CAEP + "credential-change"
        event |= {
            "credential_type": "password",
            "change_type": "update",
            "initiating_entity": "user",
        }
    else:
        uri, event = RISC + "account-disabled", {"reason": "hijacking"}
    claims = {
        "iss": sender.issuer,
        "jti": uuid.uuid4().hex,
        "iat": seconds,
        "aud": sender.audience,
        "sub_id": subject,
        "events": {uri: event},
    }
    headers = {"kid": sender.kid, "typ": "secevent+jwt"}
    token = jwt.encode(claims, sender.pem, algorithm="RS256", headers=headers)
    return InboundMessage(step, {"Content-Type": "application/secevent+jwt"}, token.encode())


def _oidc(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A logout token (Back-Channel Logout 1.0 §2.4), form-posted as §2.5 says."""
    assert isinstance(step, End)
    now = int(time.time())  # §2.6: iat is checked against the real time
    claims = {
        "iss": sender.issuer,
        "aud": sender.audience,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
        "sid": step.session,
        "events": {BCL: {}},
    }
    headers = {"kid": sender.kid, "typ": "logout+jwt"}
    token = jwt.encode(claims, sender.pem, algorithm="RS256", headers=headers)
    body = urlencode({"logout_token": token}).encode()
    return InboundMessage(step, {"Content-Type": "application/x-www-form-urlencoded"}, body)


def _saml(sender: Sender, step: Step, user: str) -> InboundMessage:
    """A signed `<samlp:LogoutRequest>` (Core §3.7.1) in a SOAP 1.1 envelope (Bindings §3.2)."""
    assert isinstance(step, End)
    request = etree.Element(f"{{{SAMLP}}}LogoutRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    instant = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    request.attrib.update(
        {
            "ID": f"_{uuid.uuid4().hex}",
            "Version": "2.0",
            "IssueInstant": instant,
            "Destination": sender.audience,
        }
    )
    etree.SubElement(request, f"{{{SAML}}}Issuer").text = sender.issuer
    etree.SubElement(request, f"{{{SAML}}}NameID").text = user
    etree.SubElement(request, f"{{{SAMLP}}}SessionIndex").text = step.session
    # Core §5.4.3-5.4.4: exclusive c14n (the envelope's namespaces stay out of the digest)
    signer = XMLSigner(signature_algorithm=SignatureMethod.RSA_SHA256, c14n_algorithm=EXC_C14N)
    signed = signer.sign(request, key=sender.pem, cert=sender.certificate)
    body = (
        f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>'.encode()
        + etree.tostring(signed)
        + b"</soap:Body></soap:Envelope>"
    )
    return InboundMessage(step, {"Content-Type": "text/xml"}, body)


BUILDERS: dict[str, Callable[[Sender, Step, str], InboundMessage]] = {
    "wso2": _wso2,
    "keycloak": _keycloak,
    "ssf": _ssf,
    "oidc": _oidc,
    "saml": _saml,
}

"""How each kind's IdP sends a step (`(sender, step, the user it concerns)`)."""
