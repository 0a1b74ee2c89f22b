"""SAML 2.0 single logout from the IdP (`kind = "saml"`): SOAP back-channel and HTTP-POST.

The IdP sends a `<samlp:LogoutRequest>` (SAML Core §3.7.1): in a SOAP 1.1 envelope (SAML
Bindings §3.2, `text/xml`), or base64 in the form field `SAMLRequest` (HTTP-POST binding,
Bindings §3.5). Its enveloped XML signature must verify against the IdP's certificate
(`idp_certificate_file`) with signxml, and only the signed element is read afterwards (no
signature wrapping). `issuer` (the IdP's entity id) must match `<saml:Issuer>`, an expired
`NotOnOrAfter` is refused, and the request's `ID` is the replay key. Each `<SessionIndex>` ends
that session of the `<NameID>` user (reason `logout`, actor the IdP's entity id); without one,
all the user's sessions end. The answer is a `<samlp:LogoutResponse>` with status Success
(Core §3.7.2), in a SOAP envelope, or for HTTP-POST an auto-submitting form to the IdP's
`idp_slo_url`. A request failing verification is a 401 and records nothing.
Tests: tests/inbound/test_saml.py.
"""

from __future__ import annotations

import base64
import binascii
import html
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import parse_qs

from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
from signxml.verifier import XMLVerifier

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

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"samlp": SAMLP, "saml": SAML, "soap": SOAP}
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


class SamlAdapter(Adapter):
    """An IdP's single logout requests to this service provider."""

    kind = "saml"
    options: ClassVar[frozenset[str]] = frozenset({"idp_slo_url"})

    def __init__(self, connection: Connection) -> None:
        super().__init__(connection)
        if connection.idp_certificate is None:
            raise ValueError("a saml connection needs `idp_certificate_file`")
        if connection.issuer is None:
            raise ValueError("a saml connection needs `issuer` (the IdP's entity id)")
        self.slo_url = connection.options.get("idp_slo_url")

    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message]:
        """Verify the LogoutRequest and map its NameID and SessionIndexes."""
        soap, raw, relay = _unwrap(request)
        signed = self._verify(raw)
        request_id = signed.get("ID")
        if not request_id or len(request_id) > 255:
            raise Malformed("the LogoutRequest has no ID")
        issuer = signed.findtext("saml:Issuer", namespaces=NS)
        if (issuer or "").strip() != self.connection.issuer:
            raise Refused(f"unexpected Issuer {str(issuer)[:100]!r}")
        expiry = _time(signed.get("NotOnOrAfter"))
        if expiry is not None and expiry <= now:
            raise Refused("the LogoutRequest has expired (NotOnOrAfter)")
        name_id = (signed.findtext("saml:NameID", namespaces=NS) or "").strip()
        if not name_id:
            raise Malformed("the LogoutRequest has no NameID")
        found = signed.findall("samlp:SessionIndex", NS)
        indexes = [i.text.strip() for i in found if i.text and i.text.strip()]
        commands = self._commands(name_id, indexes, cause=self.cause(request_id))
        until = max(expiry or now, now) + timedelta(days=1)
        reply_to = {"binding": "soap" if soap else "post", "relay": relay or ""}
        return [
            Message(
                request_id,
                "LogoutRequest",
                self.connection.tenant,
                commands,
                keep_until=until,
                reply_to=reply_to,
            )
        ]

    def _verify(self, raw: bytes) -> etree._Element:
        try:
            result = XMLVerifier().verify(raw, x509_cert=self.connection.idp_certificate)
        except (InvalidSignature, InvalidInput, SignXMLException) as e:
            raise Refused(f"signature does not verify: {e}") from None
        except etree.XMLSyntaxError:
            raise Malformed("the LogoutRequest is not XML") from None
        signed = result.signed_xml if not isinstance(result, list) else None
        if signed is None or signed.tag != f"{{{SAMLP}}}LogoutRequest":
            raise Refused("the signature does not cover the LogoutRequest")
        return signed

    def _commands(self, name_id: str, indexes: list[str], *, cause: str) -> tuple[Command, ...]:
        actor = str(self.connection.issuer)[:255]
        if indexes:
            return tuple(
                EndSession(sid, "logout", actor, cause=cause, user_id=name_id) for sid in indexes
            )
        return (EndUserSessions(name_id, "logout", actor, cause=cause),)

    def answer(self, results: Sequence[Result]) -> Reply:
        """Core §3.7.2: a LogoutResponse with status Success, in the request's binding."""
        message = results[0].message
        response = logout_response(message.event_id, issuer=self.connection.audience)
        relay = message.reply_to.get("relay") or None
        if message.reply_to.get("binding") == "soap":
            envelope = (
                f'<soap:Envelope xmlns:soap="{SOAP}"><soap:Body>{response}</soap:Body>'
                "</soap:Envelope>"
            )
            return Reply(200, envelope.encode(), "text/xml")
        if self.slo_url is None:
            return Reply(200, response.encode(), "application/xml")
        return Reply(200, _post_form(self.slo_url, response, relay).encode(), "text/html")


def _unwrap(request: InboundRequest) -> tuple[bool, bytes, str | None]:
    """(is SOAP, the LogoutRequest's XML bytes, RelayState)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        form = parse_qs(request.body.decode("ascii", errors="replace"))
        encoded = (form.get("SAMLRequest") or [""])[0]
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise Malformed("SAMLRequest is not base64") from None
        if not raw:
            raise Malformed("missing SAMLRequest")
        return False, raw, next(iter(form.get("RelayState", [])), None)
    if media not in ("text/xml", "application/soap+xml", "application/xml"):
        raise Malformed("expected a SOAP envelope (text/xml) or an HTTP-POST form")
    try:
        envelope = etree.fromstring(request.body, PARSER)
    except etree.XMLSyntaxError:
        raise Malformed("the body is not XML") from None
    found = envelope.find("soap:Body/samlp:LogoutRequest", NS)
    if found is None:
        raise Malformed("no LogoutRequest in the SOAP body")
    return True, etree.tostring(found), None


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Malformed(f"invalid time {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def logout_response(in_response_to: str, *, issuer: str | None) -> str:
    """An unsigned `<samlp:LogoutResponse>` with status Success (Core §3.7.2)."""
    instant = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    issuer_xml = f"<saml:Issuer>{html.escape(issuer)}</saml:Issuer>" if issuer else ""
    return (
        f'<samlp:LogoutResponse xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}"'
        f' ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{instant}"'
        f' InResponseTo="{html.escape(in_response_to, quote=True)}">{issuer_xml}'
        f'<samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status>'
        "</samlp:LogoutResponse>"
    )


def _post_form(url: str, response: str, relay: str | None) -> str:
    """Bindings §3.5.4: an auto-submitting form carrying the base64 response."""
    value = base64.b64encode(response.encode()).decode()
    relay_input = (
        f'<input type="hidden" name="RelayState" value="{html.escape(relay, quote=True)}">'
        if relay
        else ""
    )
    return (
        '<!DOCTYPE html><html><body onload="document.forms[0].submit()">'
        f'<form method="post" action="{html.escape(url, quote=True)}">'
        f'<input type="hidden" name="SAMLResponse" value="{value}">{relay_input}'
        '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
    )
