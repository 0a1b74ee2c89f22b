"""SAML 2.0 single logout: LogoutRequests built and signed by python3-saml (OneLogin's toolkit,
an implementation independent of the signxml verifier), over SOAP and HTTP-POST."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from lxml import etree

from tests.api.conftest import Minter
from tests.inbound.helpers import active, history, metric

saml2 = pytest.importorskip("onelogin.saml2.logout_request", reason="python3-saml not installed")
saml_utils = pytest.importorskip("onelogin.saml2.utils")
saml_settings = pytest.importorskip("onelogin.saml2.settings")

IDP = "https://idp.example.test/saml2/metadata"
SP = "https://ledger.example.test/saml"
PATH = "/v1/inbound/saml-idp"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


def certificate(cn: str) -> tuple[str, str]:
    """A self-signed RSA certificate and its key, PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key


@pytest.fixture(scope="module")
def idp_keys() -> tuple[str, str]:
    return certificate("idp.example.test")


@pytest.fixture(scope="module")
def stranger_keys() -> tuple[str, str]:
    return certificate("evil.example.test")


def signed_logout_request(
    keys: tuple[str, str], *, name_id: str, session_index: str | None, issuer: str = IDP
) -> bytes:
    """A LogoutRequest as python3-saml builds and signs it (RSA-SHA256, enveloped)."""
    cert, key = keys
    settings = saml_settings.OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {  # python3-saml calls the requester "sp": here it plays the IdP
                "entityId": issuer,
                "assertionConsumerService": {"url": f"{issuer}/acs"},
                "x509cert": cert,
                "privateKey": key,
            },
            "idp": {
                "entityId": SP,
                "singleSignOnService": {"url": f"{SP}/sso"},
                "singleLogoutService": {"url": f"https://ledger.example.test{PATH}"},
                "x509cert": cert,
            },
        },
        sp_validation_only=True,
    )
    request = saml2.OneLogin_Saml2_Logout_Request(
        settings, name_id=name_id, session_index=session_index
    )
    xml = request.get_xml()
    signed: bytes = saml_utils.OneLogin_Saml2_Utils.add_sign(xml, key, cert)
    return signed


def soap(xml: bytes) -> bytes:
    body = xml.split(b"?>", 1)[-1] if xml.startswith(b"<?xml") else xml
    return (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        + body
        + b"</soap:Body></soap:Envelope>"
    )


def post_soap(client: TestClient, xml: bytes) -> Any:
    return client.post(PATH, content=soap(xml), headers={"Content-Type": "text/xml"})


@pytest.fixture
def idp(
    connect: Callable[[str], TestClient],
    tmp_path: Path,
    idp_keys: tuple[str, str],
    hs: Minter,
) -> TestClient:
    (tmp_path / "idp.pem").write_text(idp_keys[0])
    client = connect(
        f"""
[[connection]]
name = "saml-idp"
kind = "saml"
tenant = "initech"
issuer = "{IDP}"
audience = "{SP}"
idp_certificate_file = "idp.pem"
idp_slo_url = "https://idp.example.test/saml2/slo"
"""
    )
    ingest = hs.auth("idp", "sessions:ingest", tenant="initech")
    for sid in ("idx-1", "idx-2"):
        body = {"session_id": sid, "user_id": "dave@initech.example"}
        assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    return client


def response_status(xml: bytes) -> tuple[str, str]:
    root = etree.fromstring(xml)
    response = (
        root if root.tag.endswith("LogoutResponse") else root.find(f".//{{{SAMLP}}}LogoutResponse")
    )
    assert response is not None
    code = response.find(f"{{{SAMLP}}}Status/{{{SAMLP}}}StatusCode")
    assert code is not None
    return response.get("InResponseTo") or "", code.get("Value") or ""


def test_a_soap_logout_request_ends_the_session_index_and_answers_success(
    idp: TestClient, idp_keys: tuple[str, str], hs: Minter
) -> None:
    xml = signed_logout_request(idp_keys, name_id="dave@initech.example", session_index="idx-1")
    response = post_soap(idp, xml)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    request_id = etree.fromstring(xml).get("ID")
    assert response_status(response.content) == (
        request_id,
        "urn:oasis:names:tc:SAML:2.0:status:Success",
    )
    ended = history(idp, hs, "dave@initech.example", "initech")["idx-1"]
    assert (ended["termination_reason"], ended["terminated_by"]) == ("logout", IDP)
    assert ended["termination_cause"] == f"saml-idp:{request_id}"
    assert active(idp, hs, "dave@initech.example", "initech") == ["idx-2"]


def test_an_http_post_logout_request_without_session_index_ends_all_and_posts_back(
    idp: TestClient, idp_keys: tuple[str, str], hs: Minter
) -> None:
    xml = signed_logout_request(idp_keys, name_id="dave@initech.example", session_index=None)
    form = {"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": "rs-1"}
    response = idp.post(PATH, data=form)
    assert response.status_code == 200
    assert 'action="https://idp.example.test/saml2/slo"' in response.text
    assert 'name="RelayState" value="rs-1"' in response.text
    encoded = response.text.split('name="SAMLResponse" value="', 1)[1].split('"', 1)[0]
    assert response_status(base64.b64decode(encoded))[1].endswith("Success")
    assert active(idp, hs, "dave@initech.example", "initech") == []


def test_a_request_signed_by_another_key_is_refused_and_ends_nothing(
    idp: TestClient, stranger_keys: tuple[str, str], hs: Minter
) -> None:
    xml = signed_logout_request(
        stranger_keys, name_id="dave@initech.example", session_index="idx-1"
    )
    assert post_soap(idp, xml).status_code == 401
    assert sorted(active(idp, hs, "dave@initech.example", "initech")) == ["idx-1", "idx-2"]
    assert metric(idp, "saml-idp", "refused") == 1


def test_an_unsigned_or_tampered_request_is_refused(
    idp: TestClient, idp_keys: tuple[str, str], hs: Minter
) -> None:
    xml = signed_logout_request(idp_keys, name_id="dave@initech.example", session_index="idx-1")
    tampered = xml.replace(b"idx-1", b"idx-2")
    assert post_soap(idp, tampered).status_code == 401
    root = etree.fromstring(xml)
    for signature in root.findall("{http://www.w3.org/2000/09/xmldsig#}Signature"):
        root.remove(signature)
    assert post_soap(idp, etree.tostring(root)).status_code == 401
    assert sorted(active(idp, hs, "dave@initech.example", "initech")) == ["idx-1", "idx-2"]


def test_another_issuer_is_refused(idp: TestClient, idp_keys: tuple[str, str]) -> None:
    xml = signed_logout_request(
        idp_keys,
        name_id="dave@initech.example",
        session_index="idx-1",
        issuer="https://other.example.test/saml",
    )
    assert post_soap(idp, xml).status_code == 401


def test_a_replayed_request_is_acknowledged_and_records_nothing_more(
    idp: TestClient, idp_keys: tuple[str, str]
) -> None:
    xml = signed_logout_request(idp_keys, name_id="dave@initech.example", session_index="idx-1")
    assert post_soap(idp, xml).status_code == 200
    assert post_soap(idp, xml).status_code == 200
    assert metric(idp, "saml-idp", "duplicate") == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<not-closed", "text/xml"),
        (b"<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'/>", "text/xml"),
        (b"SAMLRequest=%%%", "application/x-www-form-urlencoded"),
        (b"{}", "application/json"),
    ],
)
def test_a_malformed_request_is_a_400(idp: TestClient, body: bytes, content_type: str) -> None:
    assert idp.post(PATH, content=body, headers={"Content-Type": content_type}).status_code == 400
