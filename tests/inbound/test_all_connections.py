"""Five connections of five kinds in one file feed one running ledger; the admin API (what the
console shows) lists each tenant's sessions and their history with the senders' reasons."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KeyPair, Minter
from tests.conftest import FakeClock
from tests.inbound import test_keycloak as kc
from tests.inbound import test_oidc as oidc
from tests.inbound import test_ssf as ssf
from tests.inbound import test_wso2 as wso2
from tests.inbound.helpers import at_ms, fixture, history

saml = pytest.importorskip("tests.inbound.test_saml", reason="python3-saml not installed")


def test_five_kinds_in_one_file_feed_one_ledger(
    connect: Callable[[str], TestClient],
    jwks_file: Path,
    tmp_path: Path,
    clock: FakeClock,
    rsa_key: KeyPair,
    hs: Minter,
) -> None:
    idp_keys = saml.certificate("idp.example.test")
    (tmp_path / "idp.pem").write_text(idp_keys[0])
    text = "\n".join(
        [
            wso2.CONNECTIONS,
            kc.connections(jwks_file),
            ssf.connections(jwks_file),
            oidc.connections(jwks_file),
            f"""
[[connection]]
name = "saml-idp"
kind = "saml"
tenant = "initech"
issuer = "{saml.IDP}"
idp_certificate_file = "idp.pem"
""",
        ]
    )
    clock.now = at_ms(1755541966644)
    client = connect(text)

    # WSO2: established then revoked by the user's logout.
    assert wso2.deliver(client, fixture("wso2/session-established.json")).status_code == 200
    assert wso2.deliver(client, fixture("wso2/session-revoked.json")).status_code == 200
    # Keycloak: a login, then an admin deletes the session.
    assert kc.deliver(client, kc.event("access.LOGIN")).status_code == 200
    assert kc.deliver(client, fixture("keycloak/admin-session-delete.json")).status_code == 200
    # SSF, OIDC and SAML end sessions the IdP recorded through the ingest API.
    for tenant, sid, user in (
        ("t123456789", ssf.SESSION, ssf.USER),
        ("globex", "s1", "carol"),
        ("initech", "idx-1", "dave@initech.example"),
    ):
        ingest = hs.auth("idp", "sessions:ingest", tenant=tenant)
        body = {"session_id": sid, "user_id": user}
        assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    revoked = ssf.claims("caep-session-revoked-complex")
    assert ssf.push(client, ssf.set_token(rsa_key, revoked)).status_code == 202
    token = oidc.logout_token(rsa_key)
    assert client.post("/v1/inbound/op", data={"logout_token": token}).status_code == 200
    request = saml.signed_logout_request(
        idp_keys, name_id="dave@initech.example", session_index="idx-1"
    )
    form = {"SAMLRequest": base64.b64encode(request).decode()}
    assert client.post("/v1/inbound/saml-idp", data=form).status_code == 200

    ends = {
        ("myorg", wso2.USER, wso2.SESSION): "logout",
        ("neosync", kc.USER, kc.SID): "admin_terminated",
        ("t123456789", ssf.USER, ssf.SESSION): "admin_terminated",
        ("globex", "carol", "s1"): "logout",
        ("initech", "dave@initech.example", "idx-1"): "logout",
    }
    for (tenant, user, sid), reason in ends.items():
        assert history(client, hs, user, tenant)[sid]["termination_reason"] == reason, tenant
