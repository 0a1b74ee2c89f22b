"""An administrator pauses, resumes and redelivers any receiver of the tenant (the console's
receivers page); the owner's own endpoints are unchanged. Real webhook receiver over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ledger.config import Settings
from tests.outbound.conftest import auth, wait_until
from tests.outbound.receivers import WebhookReceiver
from tests.outbound.test_delivery import end_sessions
from tests.outbound.test_webhooks import register

ADMIN = "sessions:read sessions:terminate sessions:audit"


@pytest.fixture
def consumer() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver()
    yield r
    r.close()


def test_an_admin_pauses_resumes_and_redelivers_a_webhook(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    s = outbound_settings
    hook = register(transmitter, s, consumer.url, "session.terminated")
    consumer.secret = hook["secret"]
    admin = auth(s, sub="ann", scope=ADMIN)
    listed = transmitter.get("/v1/outbound/deliveries", headers=admin).json()["receivers"]
    assert [(r["id"], r["kind"], r["status"]) for r in listed] == [
        (hook["id"], "webhook", "enabled")
    ]

    paused = transmitter.post(f"/v1/outbound/receivers/{hook['id']}/pause", headers=admin)
    assert paused.json() == {"id": hook["id"], "status": "paused", "status_reason": "paused by ann"}
    end_sessions(transmitter, 2)
    stats = transmitter.get("/v1/outbound/deliveries", headers=admin).json()["receivers"][0]
    assert (stats["status"], stats["pending"]) == ("paused", 2)
    assert consumer.received == []

    resumed = transmitter.post(f"/v1/outbound/receivers/{hook['id']}/resume", headers=admin)
    assert resumed.json()["status"] == "enabled"
    wait_until(lambda: len(consumer.received) == 2)

    again = transmitter.post(
        f"/v1/outbound/receivers/{hook['id']}/requeue", json={"from_position": 0}, headers=admin
    )
    assert again.json() == {"id": hook["id"], "requeued": 2}
    wait_until(lambda: len(consumer.received) == 4)
    ids = [m["data"]["session_id"] for m in consumer.received]
    assert ids == ["alice-0", "alice-1", "alice-0", "alice-1"]


def test_operators_need_terminate_and_stay_in_their_tenant(
    transmitter: Any, outbound_settings: Settings, consumer: WebhookReceiver
) -> None:
    s = outbound_settings
    hook = register(transmitter, s, consumer.url, "session.terminated")
    path = f"/v1/outbound/receivers/{hook['id']}/pause"
    reader = transmitter.post(
        path, headers=auth(s, sub="ann", scope="sessions:read sessions:audit")
    )
    assert reader.status_code == 403
    other = transmitter.post(path, headers=auth(s, sub="ann", scope=ADMIN, tenant="globex"))
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    missing = transmitter.post(
        "/v1/outbound/receivers/nope/requeue",
        json={"from_position": -1},
        headers=auth(s, scope=ADMIN),
    )
    assert missing.status_code == 422
    listed = transmitter.get("/v1/outbound/deliveries", headers=auth(s, scope=ADMIN))
    assert listed.json()["receivers"][0]["status"] == "enabled"
