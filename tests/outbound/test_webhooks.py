"""Standard Webhooks: registration, signed deliveries verified with `standardwebhooks`,
stable `webhook-id` across retries, `410 Gone` disables the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook

from ledger.aggregates.ids import event_uuid, session_uuid
from ledger.config import Settings
from ledger.outbound.send import webhook_headers
from tests.outbound.conftest import auth, wait_until
from tests.outbound.receivers import WebhookReceiver
from tests.outbound.test_delivery import end_sessions

HOOKS = "webhooks:manage"


@pytest.fixture
def consumer() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def register(client: Any, settings: Settings, url: str, *types: str) -> dict[str, Any]:
    body = {"url": url, "event_types": list(types or ("session.terminated",))}
    response = client.post("/v1/webhooks", json=body, headers=auth(settings, scope=HOOKS))
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_signature_matches_the_specification_example() -> None:
    # Standard Webhooks spec ("Signature scheme") example, as the reference library signs it
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    at = datetime.fromtimestamp(1614265330, UTC)
    headers = webhook_headers(
        secret=secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", body=body, at=at
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert (
        Webhook(secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, body.decode())
        == headers["webhook-signature"]
    )


def test_register_and_receive(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    s = outbound_settings
    hook = register(transmitter, s, consumer.url, "session.terminated", "session.started")
    assert hook["secret"].startswith("whsec_")
    consumer.secret = hook["secret"]
    listed = transmitter.get("/v1/webhooks", headers=auth(s, scope=HOOKS)).json()["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    end_sessions(transmitter, 2)
    wait_until(lambda: len(consumer.received) == 4)
    types = [m["type"] for m in consumer.received]
    assert types == ["session.started", "session.terminated"] * 2
    ended = consumer.received[1]
    assert ended["data"]["session_id"] == "alice-0" and ended["data"]["reason"] == "logout"
    assert consumer.problems == []


def test_retry_keeps_the_webhook_id(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    hook = register(transmitter, outbound_settings, consumer.url)
    consumer.secret = hook["secret"]
    consumer.mode = "down"
    end_sessions(transmitter, 1)
    wait_until(lambda: consumer.attempts >= 2)
    consumer.mode = "ok"
    wait_until(lambda: len(consumer.received) == 1)
    [message] = consumer.received
    terminated = str(event_uuid(session_uuid("acme", "alice-0"), 2))  # the ledger event's id
    assert message["jti"] == terminated
    assert set(consumer.ids) == {terminated} and len(consumer.ids) >= 3  # same id every try


def test_gone_disables(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    s = outbound_settings
    hook = register(transmitter, s, consumer.url)
    consumer.mode = "gone"
    end_sessions(transmitter, 2)

    def read() -> dict[str, Any]:
        got = transmitter.get(f"/v1/webhooks/{hook['id']}", headers=auth(s, scope=HOOKS))
        return dict(got.json())

    wait_until(lambda: read()["status"] == "disabled")
    assert consumer.attempts == 1
    assert "410" in read()["status_reason"]


def test_bad_registrations(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    for body in ({"url": "http://127.0.0.1:1/x", "event_types": ["nope"]},
                 {"url": "not a url", "event_types": ["session.started"]},
                 {"url": "https://x.example", "event_types": []}):  # fmt: skip
        response = transmitter.post("/v1/webhooks", json=body, headers=auth(s, scope=HOOKS))
        assert response.status_code in (400, 422), body
    assert transmitter.get("/v1/webhooks", headers=auth(s, scope="ssf.manage")).status_code == 403


def test_owners_only(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    s = outbound_settings
    hook = register(transmitter, s, consumer.url)
    other = auth(s, sub="someone-else", scope=HOOKS)
    assert transmitter.get(f"/v1/webhooks/{hook['id']}", headers=other).status_code == 404
    assert transmitter.delete(f"/v1/webhooks/{hook['id']}", headers=other).status_code == 404
    assert (
        transmitter.delete(f"/v1/webhooks/{hook['id']}", headers=auth(s, scope=HOOKS)).status_code
        == 204
    )
