"""Discovery, JWKS and stream management (SSF 1.0 §7, §8.1) through the real HTTP API."""

from __future__ import annotations

from typing import Any

from joserfc.jwk import KeySet

from ledger.config import Settings
from ledger.outbound.signals import CREDENTIAL_CHANGE, SESSION_REVOKED
from tests.outbound.conftest import TRANSMITTER, auth

PUSH, POLL = "urn:ietf:rfc:8935", "urn:ietf:rfc:8936"


def _create(client: Any, settings: Settings, **body: Any) -> dict[str, Any]:
    payload = {"delivery": {"method": POLL}, "events_requested": [SESSION_REVOKED]} | body
    response = client.post("/v1/ssf/streams", json=payload, headers=auth(settings))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_discovery_and_jwks(transmitter: Any, outbound_settings: Settings) -> None:
    config = transmitter.get("/.well-known/ssf-configuration").json()
    assert config["spec_version"] == "1_0"
    assert config["issuer"] == TRANSMITTER
    assert config["jwks_uri"] == TRANSMITTER + "/.well-known/jwks.json"
    assert set(config["delivery_methods_supported"]) == {PUSH, POLL}
    assert config["configuration_endpoint"] == TRANSMITTER + "/v1/ssf/streams"
    assert config["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert transmitter.get("/.well-known/ssf-configuration/other").status_code == 404
    keys = transmitter.get("/.well-known/jwks.json").json()
    assert len(KeySet.import_key_set(keys).keys) == 2


def test_no_transmitter_without_issuer(make_settings: Any) -> None:
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    with TestClient(create_app(make_settings())) as client:
        response = client.get("/.well-known/ssf-configuration")
    assert response.status_code == 404
    assert "LEDGER_ISSUER" in response.json()["detail"]


def test_stream_lifecycle(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    created = _create(transmitter, s, events_requested=[SESSION_REVOKED, "urn:unknown"])
    sid = created["stream_id"]
    assert created["iss"] == TRANSMITTER and created["aud"] == "rp-1"
    assert created["events_delivered"] == [SESSION_REVOKED]  # the intersection
    assert created["delivery"] == {
        "method": POLL,
        "endpoint_url": f"{TRANSMITTER}/v1/ssf/poll/{sid}",
    }
    read = transmitter.get(
        "/v1/ssf/streams", params={"stream_id": sid}, headers=auth(s, scope="ssf.read")
    )
    assert read.json() == created
    assert [x["stream_id"] for x in transmitter.get("/v1/ssf/streams", headers=auth(s)).json()] == [
        sid
    ]

    patched = transmitter.patch(
        "/v1/ssf/streams", json={"stream_id": sid, "events_requested": [CREDENTIAL_CHANGE]},
        headers=auth(s),
    )  # fmt: skip
    assert patched.status_code == 200 and patched.json()["events_delivered"] == [CREDENTIAL_CHANGE]
    refused = transmitter.patch(
        "/v1/ssf/streams", json={"stream_id": sid, "iss": "https://evil"}, headers=auth(s)
    )
    assert refused.status_code == 400 and "iss" in refused.json()["detail"]
    replaced = transmitter.put(
        "/v1/ssf/streams", json={"stream_id": sid, "delivery": {"method": POLL}}, headers=auth(s)
    )
    assert replaced.json()["events_requested"] == []

    status = transmitter.post(
        "/v1/ssf/status", json={"stream_id": sid, "status": "paused"}, headers=auth(s)
    )
    assert status.json() == {"stream_id": sid, "status": "paused"}
    got = transmitter.get("/v1/ssf/status", params={"stream_id": sid}, headers=auth(s))
    assert got.json()["status"] == "paused"
    assert (
        transmitter.delete(
            "/v1/ssf/streams", params={"stream_id": sid}, headers=auth(s)
        ).status_code
        == 204
    )
    gone = transmitter.get("/v1/ssf/streams", params={"stream_id": sid}, headers=auth(s))
    assert gone.status_code == 404


def test_receivers_see_only_their_own(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    sid = _create(transmitter, s)["stream_id"]
    for other in (auth(s, sub="rp-2"), auth(s, tenant="globex")):
        response = transmitter.get("/v1/ssf/streams", params={"stream_id": sid}, headers=other)
        assert response.status_code == 404
        assert transmitter.get("/v1/ssf/streams", headers=other).json() == []
        deleted = transmitter.delete("/v1/ssf/streams", params={"stream_id": sid}, headers=other)
        assert deleted.status_code == 404


def test_scopes(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    read_only = auth(s, scope="ssf.read")
    assert transmitter.post("/v1/ssf/streams", json={}, headers=read_only).status_code == 403
    assert (
        transmitter.get("/v1/ssf/streams", headers=auth(s, scope="sessions:read")).status_code
        == 403
    )
    assert transmitter.get("/v1/ssf/streams").status_code == 401


def test_bad_requests_are_400(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    for body in (
        {"delivery": {"method": "carrier-pigeon"}},
        {"delivery": {"method": PUSH}},
        {"delivery": {"method": PUSH, "endpoint_url": "ftp://x"}},
        {"delivery": {"method": POLL}, "events_requested": "all"},
    ):
        response = transmitter.post("/v1/ssf/streams", json=body, headers=auth(s))
        assert response.status_code == 400, body
        assert response.headers["content-type"] == "application/problem+json"


def test_private_push_url_refused_by_default(make_settings: Any, key_file: Any) -> None:
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    settings = make_settings(issuer=TRANSMITTER, signing_key_file=key_file)
    with TestClient(create_app(settings)) as client:
        for url in ("https://127.0.0.1/events", "https://169.254.169.254/", "https://10.1.2.3/x",
                    "https://localhost/x", "http://example.com/x"):  # fmt: skip
            body = {"delivery": {"method": PUSH, "endpoint_url": url}}
            response = client.post("/v1/ssf/streams", json=body, headers=auth(settings))
            assert response.status_code == 400, url
            assert "endpoint_url" in response.json()["detail"]


def test_subjects_and_verification(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    sid = _create(transmitter, s)["stream_id"]
    subject = {"format": "iss_sub", "iss": "https://idp", "sub": "alice"}
    added = transmitter.post(
        "/v1/ssf/subjects:add", json={"stream_id": sid, "subject": subject, "verified": True},
        headers=auth(s),
    )  # fmt: skip
    assert added.status_code == 200
    removed = transmitter.post(
        "/v1/ssf/subjects:remove", json={"stream_id": sid, "subject": subject}, headers=auth(s)
    )
    assert removed.status_code == 204
    bad = transmitter.post(
        "/v1/ssf/subjects:add", json={"stream_id": sid, "subject": "alice"}, headers=auth(s)
    )
    assert bad.status_code == 400
    verify = transmitter.post(
        "/v1/ssf/verify", json={"stream_id": sid, "state": "xyz"}, headers=auth(s)
    )
    assert verify.status_code == 204


def test_issuer_with_a_path(make_settings: Any, key_file: Any) -> None:
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    settings = make_settings(issuer="https://tr.example.com/issuer1", signing_key_file=key_file)
    with TestClient(create_app(settings)) as client:
        config = client.get("/.well-known/ssf-configuration/issuer1")  # SSF 1.0 §7.2
    assert config.status_code == 200
    assert config.json()["issuer"] == "https://tr.example.com/issuer1"
