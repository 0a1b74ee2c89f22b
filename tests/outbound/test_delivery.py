"""Push delivery (RFC 8935) to an independent receiver: order, retries, refusals, the bound
that disables a stream, paused streams, operators' view. Through the real app and worker."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.outbound.signals import (
    SESSION_ESTABLISHED,
    SESSION_REVOKED,
    STREAM_UPDATED,
    VERIFICATION,
)
from tests.outbound.conftest import TRANSMITTER, auth, wait_until
from tests.outbound.receivers import SetReceiver

PUSH = "urn:ietf:rfc:8935"


@pytest.fixture
def receiver(transmitter: Any) -> Iterator[SetReceiver]:
    jwks = transmitter.get("/.well-known/jwks.json").json()
    r = SetReceiver(jwks=jwks, issuer=TRANSMITTER, audience="rp-1")
    yield r
    r.close()


def push_stream(client: Any, settings: Settings, url: str, *events: str) -> str:
    body = {"delivery": {"method": PUSH, "endpoint_url": url, "authorization_header": "Bearer rcv"},
            "events_requested": list(events or (SESSION_REVOKED,))}  # fmt: skip
    response = client.post("/v1/ssf/streams", json=body, headers=auth(settings))
    assert response.status_code == 201, response.text
    return str(response.json()["stream_id"])


def end_sessions(client: Any, n: int, user: str = "alice") -> None:
    ledger = client.system.ledger
    for i in range(n):
        ledger.start_session(tenant="acme", user_id=user, session_id=f"{user}-{i}")
        ledger.terminate_session(
            tenant="acme", session_id=f"{user}-{i}", reason="logout", actor=user
        )
    settle(client)


def settle(client: Any) -> None:
    """Wait until the outbox process has every event of the log."""
    head = client.system.ledger.recorder.max_notification_id()
    store = client.app.state.outbound.store
    wait_until(lambda: (store.max_tracking_id("SessionLedger") or 0) >= head)


def sessions_of(receiver: SetReceiver) -> list[str]:
    return [
        c["sub_id"]["session"]["id"] for c in receiver.received if SESSION_REVOKED in c["events"]
    ]


def test_push_in_order(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    push_stream(transmitter, outbound_settings, receiver.url, SESSION_REVOKED, SESSION_ESTABLISHED)
    end_sessions(transmitter, 3)
    wait_until(lambda: len(receiver.received) == 6)
    kinds = [next(iter(c["events"])) for c in receiver.received]
    assert kinds == [SESSION_ESTABLISHED, SESSION_REVOKED] * 3
    assert sessions_of(receiver) == ["alice-0", "alice-1", "alice-2"]
    assert receiver.problems == []
    assert set(receiver.authorizations) == {"Bearer rcv"}  # SSF 1.0 §6.1.1: sent as given


def test_receiver_down_then_back(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    push_stream(transmitter, outbound_settings, receiver.url)
    receiver.mode = "down"
    end_sessions(transmitter, 4)
    wait_until(lambda: receiver.attempts >= 3)
    assert receiver.received == []
    receiver.mode = "ok"
    wait_until(lambda: len(receiver.received) == 4)
    assert sessions_of(receiver) == [f"alice-{i}" for i in range(4)]  # in order, none lost
    assert len(set(receiver.jtis())) == 4  # none twice


def test_400_with_err_is_recorded_not_retried(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    push_stream(transmitter, outbound_settings, receiver.url)
    receiver.mode = "reject"
    end_sessions(transmitter, 1)
    wait_until(lambda: receiver.attempts == 1)
    receiver.mode = "ok"
    end_sessions(transmitter, 1, user="bob")
    wait_until(lambda: len(receiver.received) == 1)
    assert sessions_of(receiver) == ["bob-0"]  # the refused SET was not sent again
    assert receiver.attempts == 2
    stats = transmitter.get(
        "/v1/outbound/deliveries", headers=auth(outbound_settings, scope="sessions:audit")
    )
    [entry] = stats.json()["receivers"]
    assert entry["last_error"] == "400 invalid_request: not for us"
    assert entry["delivered"] == 1 and entry["attempts"] == 2 and entry["lag"] == 0


def test_bound_disables_with_stream_updated(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    sid = push_stream(transmitter, outbound_settings, receiver.url)
    receiver.mode = "fail_events"
    end_sessions(transmitter, 2)

    def status() -> dict[str, Any]:
        params = {"stream_id": sid}
        got = transmitter.get("/v1/ssf/status", params=params, headers=auth(outbound_settings))
        return dict(got.json())

    wait_until(lambda: status()["status"] == "disabled")
    assert "12 failed deliveries" in status()["reason"]
    wait_until(lambda: len(receiver.received) == 1)
    [updated] = receiver.received
    assert updated["events"][STREAM_UPDATED]["status"] == "disabled"
    assert updated["sub_id"] == {"format": "opaque", "id": sid}
    stats = transmitter.get("/metrics").text
    assert f'ledger_outbound_attempts_total{{kind="ssf",receiver="{sid}"}} 13.0' in stats


def test_paused_holds_then_delivers(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    s = outbound_settings
    sid = push_stream(transmitter, s, receiver.url)
    transmitter.post("/v1/ssf/status", json={"stream_id": sid, "status": "paused"}, headers=auth(s))
    end_sessions(transmitter, 2)

    def lag() -> dict[str, Any]:
        got = transmitter.get("/v1/outbound/deliveries", headers=auth(s, scope="sessions:audit"))
        return dict(got.json()["receivers"][0])

    wait_until(lambda: lag()["pending"] == 2)
    assert receiver.attempts == 0 and lag()["lag"] > 0
    transmitter.post(
        "/v1/ssf/status", json={"stream_id": sid, "status": "enabled"}, headers=auth(s)
    )
    wait_until(lambda: len(receiver.received) == 2)
    assert sessions_of(receiver) == ["alice-0", "alice-1"]


def test_verification_echoes_state(
    transmitter: Any, outbound_settings: Settings, receiver: SetReceiver
) -> None:
    sid = push_stream(transmitter, outbound_settings, receiver.url)
    transmitter.post(
        "/v1/ssf/verify", json={"stream_id": sid, "state": "s-123"}, headers=auth(outbound_settings)
    )
    wait_until(lambda: len(receiver.received) == 1)
    assert receiver.received[0]["events"] == {VERIFICATION: {"state": "s-123"}}


def test_nobody_listening_then_a_receiver(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now: connections are refused
    push_stream(transmitter, s, f"http://127.0.0.1:{port}/events")
    end_sessions(transmitter, 2)

    def entry() -> dict[str, Any]:
        got = transmitter.get("/v1/outbound/deliveries", headers=auth(s, scope="sessions:audit"))
        return dict(got.json()["receivers"][0])

    wait_until(lambda: entry()["attempts"] >= 2)
    assert "ConnectError" in entry()["last_error"] and entry()["pending"] == 2
    jwks = transmitter.get("/.well-known/jwks.json").json()
    late = SetReceiver(jwks=jwks, issuer=TRANSMITTER, audience="rp-1", port=port)
    try:
        wait_until(lambda: len(late.received) == 2)
        assert sessions_of(late) == ["alice-0", "alice-1"]
    finally:
        late.close()


def test_a_restarted_app_scrapes_one_outbound_collector_not_the_closed_ones(
    outbound_settings: Settings,
) -> None:
    """Each lifespan registers the outbound figures; stopping must withdraw them, or every
    later scrape queries the closed stores of earlier runs (it made /metrics time out)."""
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    system = bootstrap(outbound_settings, run_projections=True)
    app = create_app(outbound_settings, system=system)
    try:
        for _ in range(3):
            with TestClient(app) as client:
                stats = client.get("/metrics").text
            assert stats.count("# TYPE ledger_outbound_lag gauge") == 1
    finally:
        system.close()
