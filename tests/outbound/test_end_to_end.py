"""Every way a session ends, made through the HTTP API (console, My Account, ingest, an inbound
connection, expiry), reaches a push receiver, a poll receiver and a Standard Webhooks consumer,
each verifying what it gets independently (joserfc, standardwebhooks)."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import KeySet
from jwt.algorithms import RSAAlgorithm

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.outbound.signals import (
    ACCOUNT_DISABLED,
    CREDENTIAL_CHANGE,
    EVENTS_SUPPORTED,
    SESSION_ESTABLISHED,
    SESSION_REVOKED,
    WEBHOOK_TYPES,
)
from tests.conftest import FakeClock
from tests.outbound.conftest import TRANSMITTER, auth, wait_until
from tests.outbound.receivers import SetReceiver, WebhookReceiver, verify_set
from tests.outbound.test_delivery import settle

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXPECTED_ENDS = {  # session -> (reason_code, initiating_entity)
    "a1": ("admin_terminated", "admin"),
    "a3": ("user_terminated", "user"),
    "b1": ("admin_terminated", "admin"),
    "a2": ("password_reset", "admin"),
    "a4": ("password_reset", "admin"),
    "c1": ("idle_timeout", "system"),
    "d1": ("account_locked", "policy"),
    "e1": ("admin_terminated", "admin"),  # a SET from an IdP, through the `ssf` connection
}
IDP_ISSUER, IDP_AUDIENCE = "https://idp.example.test/", "https://ledger.example.test/caep"


@pytest.fixture
def with_inbound(
    make_settings: Callable[..., Settings], outbound_settings: Settings, tmp_path: Path
) -> Iterator[tuple[Any, Any]]:
    """The transmitter's app with an inbound `ssf` connection, and the IdP's signing key."""
    from ledger.api.app import create_app

    idp = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(idp.public_key())), "kid": "idp-1", "alg": "RS256"}
    (tmp_path / "idp-jwks.json").write_text(json.dumps({"keys": [jwk]}))
    (tmp_path / "connections.toml").write_text(
        f'[[connection]]\nname = "idp"\nkind = "ssf"\ntenant = "acme"\nissuer = "{IDP_ISSUER}"\n'
        f'audience = "{IDP_AUDIENCE}"\njwks_file = "{tmp_path / "idp-jwks.json"}"\n'
    )
    values = outbound_settings.model_dump() | {"connections_file": tmp_path / "connections.toml"}
    settings = make_settings(**values)
    clock = FakeClock(datetime.now(UTC))  # today, so the IdP's and receivers' checks agree
    system = bootstrap(settings, clock=clock, run_projections=True)
    with TestClient(create_app(settings, system=system)) as client:
        client.system = system
        client.clock = clock
        yield client, idp
    system.close()


def _idp_revokes(client: Any, idp: Any, user: str, sid: str) -> None:
    """The IdP pushes a CAEP session-revoked (SSF 1.0 §4, RFC 8935) to the inbound connection."""
    now = int(time.time())
    subject = {"format": "complex", "user": {"format": "iss_sub", "iss": IDP_ISSUER, "sub": user},
               "session": {"format": "opaque", "id": sid}}  # fmt: skip
    claims = {"iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "iat": now, "jti": uuid.uuid4().hex,
              "sub_id": subject, "events": {SESSION_REVOKED: {"initiating_entity": "admin",
              "reason_admin": {"en": "Revoked at the IdP"}, "event_timestamp": now}}}  # fmt: skip
    token = jwt.encode(
        claims, idp, algorithm="RS256", headers={"kid": "idp-1", "typ": "secevent+jwt"}
    )
    sent = client.post("/v1/inbound/idp", content=token.encode(),
                       headers={"Content-Type": "application/secevent+jwt"})  # fmt: skip
    assert sent.status_code == 202, sent.text


def _commands(client: Any, s: Settings, idp: Any) -> None:
    ingest = auth(s, sub="idp", scope="sessions:ingest")
    for sid, user in [("a1", "alice"), ("a2", "alice"), ("a3", "alice"), ("a4", "alice"),
                      ("b1", "bob"), ("c1", "carol"), ("d1", "dave"), ("e1", "erin")]:  # fmt: skip
        body: dict[str, Any] = {"session_id": sid, "user_id": user}
        if sid == "c1":
            body["idle_timeout_s"] = 1
        assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    console = auth(s, sub="admin-7", scope="sessions:terminate sessions:read")
    assert client.delete("/v1/users/alice/sessions/a1", headers=console).status_code in (200, 204)
    me = auth(s, sub="alice", scope="sessions:me", sid="a2")
    assert client.delete("/v1/me/sessions/a3", headers=me).status_code in (200, 204)
    assert client.delete("/v1/users/bob/sessions", headers=console).status_code in (200, 204)
    reset = client.post("/v1/users/alice/password-reset", json={}, headers=ingest)
    assert reset.status_code == 200, reset.text
    lock = client.post("/v1/users/dave/revoke", json={"reason": "account_locked"}, headers=ingest)
    assert lock.status_code == 200, lock.text
    _idp_revokes(client, idp, "erin", "e1")
    client.clock.advance(seconds=1)  # c1's idle timeout passes
    client.system.ledger.expire_sessions([("acme", "c1")])  # what the reaper does


def _check(sets: list[dict[str, Any]]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for claims in sets:
        [(uri, event)] = claims["events"].items()
        by_type.setdefault(uri, []).append(claims)
        assert isinstance(event.get("event_timestamp"), int)
    assert len(by_type[SESSION_ESTABLISHED]) == 8
    ends = {c["sub_id"]["session"]["id"]: c for c in by_type[SESSION_REVOKED]}
    assert ends.keys() == EXPECTED_ENDS.keys()
    for sid, (code, entity) in EXPECTED_ENDS.items():
        event = ends[sid]["events"][SESSION_REVOKED]
        assert (event["reason_code"], event["initiating_entity"]) == (code, entity), sid
        assert event["reason_admin"]["en"]
        assert ends[sid]["sub_id"]["tenant"] == {"format": "opaque", "id": "acme"}
    [change] = by_type[CREDENTIAL_CHANGE]
    assert change["sub_id"]["user"]["sub"] == "alice" and "session" not in change["sub_id"]
    assert change["txn"] == ends["a2"]["txn"] == ends["a4"]["txn"]
    [locked] = by_type[ACCOUNT_DISABLED]
    assert locked["txn"] == ends["d1"]["txn"]
    assert ends["e1"]["txn"].startswith("idp:")  # the connection's cause: `<name>:<jti>`
    assert len({c["jti"] for c in sets}) == len(sets) == 18


def test_every_termination_reaches_every_receiver(
    with_inbound: tuple[Any, Any], outbound_settings: Settings
) -> None:
    transmitter, idp = with_inbound
    s = outbound_settings
    jwks = transmitter.get("/.well-known/jwks.json").json()
    push = SetReceiver(jwks=jwks, issuer=TRANSMITTER, audience="rp-1")
    hooks = WebhookReceiver()
    try:
        events = list(EVENTS_SUPPORTED)
        created = transmitter.post(
            "/v1/ssf/streams", headers=auth(s),
            json={"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": push.url},
                  "events_requested": events},
        )  # fmt: skip
        assert created.status_code == 201
        polled = transmitter.post(
            "/v1/ssf/streams", headers=auth(s, sub="rp-poll"),
            json={"delivery": {"method": "urn:ietf:rfc:8936"}, "events_requested": events},
        ).json()  # fmt: skip
        hook = transmitter.post(
            "/v1/webhooks", headers=auth(s, scope="webhooks:manage"),
            json={"url": hooks.url, "event_types": list(WEBHOOK_TYPES)},
        ).json()  # fmt: skip
        hooks.secret = hook["secret"]
        _commands(transmitter, s, idp)
        settle(transmitter)
        wait_until(lambda: len(push.received) == 18 and len(hooks.received) == 18)
        _check(push.received)
        _check(_drain_poll(transmitter, s, polled, KeySet.import_key_set(jwks)))
        types = [m["type"] for m in hooks.received]
        assert types.count("session.terminated") == 8 and types.count("session.started") == 8
        assert types.count("account.password_reset") == 1 and types.count("account.revoked") == 1
        assert push.problems == [] and hooks.problems == []
        assert len(set(hooks.ids)) == len(hooks.ids) == 18  # none twice in normal operation
    finally:
        push.close()
        hooks.close()


def _drain_poll(
    client: Any, s: Settings, stream: dict[str, Any], keys: KeySet
) -> list[dict[str, Any]]:
    path = stream["delivery"]["endpoint_url"].removeprefix(TRANSMITTER)
    got: list[dict[str, Any]] = []
    acks: list[str] = []
    while True:
        body = {"maxEvents": 5, "returnImmediately": True, "ack": acks}
        answer = client.post(path, json=body, headers=auth(s, sub="rp-poll")).json()
        got += [
            verify_set(t, keys, issuer=TRANSMITTER, audience="rp-poll")
            for t in answer["sets"].values()
        ]
        acks = list(answer["sets"])
        if not acks:
            return got
