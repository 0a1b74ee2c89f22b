"""Every way a session ends, made through the HTTP API (console, My Account, ingest, expiry),
reaches a push receiver, a poll receiver and a Standard Webhooks consumer, each verifying
what it gets independently (joserfc, standardwebhooks)."""

from __future__ import annotations

import time
from typing import Any

from joserfc.jwk import KeySet

from ledger.config import Settings
from ledger.outbound.signals import (
    ACCOUNT_DISABLED,
    CREDENTIAL_CHANGE,
    EVENTS_SUPPORTED,
    SESSION_ESTABLISHED,
    SESSION_REVOKED,
    WEBHOOK_TYPES,
)
from tests.outbound.conftest import TRANSMITTER, auth, wait_until
from tests.outbound.receivers import SetReceiver, WebhookReceiver, verify_set
from tests.outbound.test_delivery import settle

EXPECTED_ENDS = {  # session -> (reason_code, initiating_entity)
    "a1": ("admin_terminated", "admin"),
    "a3": ("user_terminated", "user"),
    "b1": ("admin_terminated", "admin"),
    "a2": ("password_reset", "admin"),
    "a4": ("password_reset", "admin"),
    "c1": ("idle_timeout", "system"),
    "d1": ("account_locked", "policy"),
}


def _commands(client: Any, s: Settings) -> None:
    ingest = auth(s, sub="idp", scope="sessions:ingest")
    for sid, user in [("a1", "alice"), ("a2", "alice"), ("a3", "alice"), ("a4", "alice"),
                      ("b1", "bob"), ("c1", "carol"), ("d1", "dave")]:  # fmt: skip
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
    time.sleep(1.2)
    client.system.ledger.expire_sessions([("acme", "c1")])  # what the reaper does


def _check(sets: list[dict[str, Any]]) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for claims in sets:
        [(uri, event)] = claims["events"].items()
        by_type.setdefault(uri, []).append(claims)
        assert isinstance(event.get("event_timestamp"), int)
    assert len(by_type[SESSION_ESTABLISHED]) == 7
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
    assert len({c["jti"] for c in sets}) == len(sets) == 16


def test_every_termination_reaches_every_receiver(
    transmitter: Any, outbound_settings: Settings
) -> None:
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
        _commands(transmitter, s)
        settle(transmitter)
        wait_until(lambda: len(push.received) == 16 and len(hooks.received) == 16)
        _check(push.received)
        _check(_drain_poll(transmitter, s, polled, KeySet.import_key_set(jwks)))
        types = [m["type"] for m in hooks.received]
        assert types.count("session.terminated") == 7 and types.count("session.started") == 7
        assert types.count("account.password_reset") == 1 and types.count("account.revoked") == 1
        assert push.problems == [] and hooks.problems == []
        assert len(set(hooks.ids)) == len(hooks.ids) == 16  # none twice in normal operation
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
