"""Poll delivery (RFC 8936 §2.4): maxEvents, returnImmediately, ack in pieces, setErrs,
moreAvailable; SETs verified with joserfc against the published JWKS."""

from __future__ import annotations

import threading
import time
from typing import Any

from joserfc.jwk import KeySet

from ledger.config import Settings
from ledger.outbound.signals import SESSION_REVOKED
from tests.outbound.conftest import TRANSMITTER, auth
from tests.outbound.receivers import verify_set
from tests.outbound.test_delivery import end_sessions

POLL = "urn:ietf:rfc:8936"


def poll_stream(client: Any, settings: Settings) -> tuple[str, str]:
    body = {"delivery": {"method": POLL}, "events_requested": [SESSION_REVOKED]}
    created = client.post("/v1/ssf/streams", json=body, headers=auth(settings)).json()
    url = created["delivery"]["endpoint_url"]
    assert url.startswith(TRANSMITTER)
    return created["stream_id"], url.removeprefix(TRANSMITTER)


def poll(client: Any, settings: Settings, path: str, **body: Any) -> dict[str, Any]:
    response = client.post(path, json={"returnImmediately": True} | body, headers=auth(settings))
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_ack_in_pieces(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    keys = KeySet.import_key_set(transmitter.get("/.well-known/jwks.json").json())
    _, path = poll_stream(transmitter, s)
    end_sessions(transmitter, 5)
    first = poll(transmitter, s, path, maxEvents=2)
    assert first["moreAvailable"] is True and len(first["sets"]) == 2
    claims = {
        jti: verify_set(t, keys, issuer=TRANSMITTER, audience="rp-1")
        for jti, t in first["sets"].items()
    }
    assert all(jti == c["jti"] for jti, c in claims.items())
    order = [c["sub_id"]["session"]["id"] for c in claims.values()]
    assert order == ["alice-0", "alice-1"]
    again = poll(transmitter, s, path, maxEvents=2)  # unacknowledged SETs come again
    assert again["sets"].keys() == first["sets"].keys()
    [a, b] = first["sets"]
    second = poll(transmitter, s, path, maxEvents=2, ack=[a])  # ack one of two
    assert next(iter(second["sets"])) == b and a not in second["sets"]
    assert len(second["sets"]) == 2
    rest = poll(transmitter, s, path, maxEvents=10, ack=list(second["sets"]))
    assert len(rest["sets"]) == 2 and rest["moreAvailable"] is False
    done = poll(transmitter, s, path, maxEvents=0, ack=list(rest["sets"]))
    assert done["sets"] == {}
    assert poll(transmitter, s, path)["sets"] == {}  # every SET acknowledged: none twice


def test_set_errs_are_recorded(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    _, path = poll_stream(transmitter, s)
    end_sessions(transmitter, 1)
    [jti] = poll(transmitter, s, path)["sets"]
    error = {jti: {"err": "invalid_key", "description": "unknown kid"}}
    assert poll(transmitter, s, path, setErrs=error)["sets"] == {}
    [entry] = transmitter.get(
        "/v1/outbound/deliveries", headers=auth(s, scope="sessions:audit")
    ).json()["receivers"]
    assert entry["last_error"] == "invalid_key: unknown kid"


def test_long_poll_returns_when_events_come(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    _, path = poll_stream(transmitter, s)
    threading.Timer(0.5, end_sessions, args=(transmitter, 1)).start()
    started = time.monotonic()
    got = poll(transmitter, s, path, returnImmediately=False)
    assert len(got["sets"]) == 1 and time.monotonic() - started < 8


def test_bad_poll_requests(transmitter: Any, outbound_settings: Settings) -> None:
    s = outbound_settings
    sid, path = poll_stream(transmitter, s)
    bodies: list[dict[str, Any]] = [
        {"maxEvents": -1},
        {"ack": "x"},
        {"setErrs": []},
        {"returnImmediately": "yes"},
    ]
    for body in bodies:
        response = transmitter.post(path, json=body, headers=auth(s))
        assert response.status_code == 400, body
    other = transmitter.post(path, json={}, headers=auth(s, sub="rp-2"))
    assert other.status_code == 404
    paused = transmitter.post(
        "/v1/ssf/status", json={"stream_id": sid, "status": "paused"}, headers=auth(s)
    )
    assert paused.status_code == 200
    end_sessions(transmitter, 1)
    assert poll(transmitter, s, path)["sets"] == {}  # a paused stream holds its events
