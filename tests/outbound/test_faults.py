"""Faults: the ledger process SIGKILLed while delivering. After a restart every SET arrives,
in log order of first arrival; a SET seen twice has the same `jti` (at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.outbound import receivers
from ledger.outbound.keys import SigningKeys, parse_pem_keys
from ledger.outbound.runtime import open_store
from ledger.outbound.sets import jti_for
from ledger.outbound.signals import SESSION_REVOKED, signals_of_log
from ledger.outbound.store import SSF
from tests.outbound.conftest import TRANSMITTER, log_events, wait_until
from tests.outbound.receivers import SetReceiver


def run_project(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_ISSUER": TRANSMITTER,
        "LEDGER_SIGNING_KEY_FILE": str(settings.signing_key_file),
        "LEDGER_OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true",
        "LEDGER_REAPER_INTERVAL_S": "3600",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", "project"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def push_stream(settings: Settings, url: str) -> str:
    store, factory = open_store(settings)
    stream_id = str(uuid.uuid4())
    config = {"iss": TRANSMITTER, "aud": "rp-1", "user_iss": TRANSMITTER,
              "default_subjects": "ALL", "events_requested": [SESSION_REVOKED],
              "events_delivered": [SESSION_REVOKED],
              "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": url}}  # fmt: skip
    receivers.create(store, receiver_id=stream_id, kind=SSF, tenant="acme", owner="rp-1",
                     config=config, from_position=0)  # fmt: skip
    factory.close()
    return stream_id


@pytest.mark.slow
def test_killed_while_delivering(make_settings: Callable[..., Settings], key_file: Any) -> None:
    settings = make_settings(issuer=TRANSMITTER, signing_key_file=key_file)
    system = bootstrap(settings, run_projections=False)
    keys = SigningKeys(parse_pem_keys(key_file.read_bytes()))
    receiver = SetReceiver(jwks=keys.jwks(), issuer=TRANSMITTER, audience="rp-1")
    receiver.delay = 0.03
    stream_id = push_stream(settings, receiver.url)
    for i in range(40):
        system.ledger.start_session(tenant="acme", user_id=f"u{i % 3}", session_id=f"s{i}")
        system.ledger.terminate_session(
            tenant="acme", session_id=f"s{i}", reason="logout", actor="x"
        )
    expected = [
        jti_for(stream_id, s.event_id, s.event_type)
        for s in signals_of_log(e for e, _ in log_events(system))
        if s.event_type == SESSION_REVOKED
    ]
    system.close()
    first = run_project(settings)
    try:
        wait_until(lambda: len(receiver.received) >= 10, timeout=60)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert len(set(receiver.jtis())) < len(expected), "the kill must land mid-delivery"
    second = run_project(settings)
    try:
        wait_until(lambda: set(receiver.jtis()) == set(expected), timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
        receiver.close()
    assert list(dict.fromkeys(receiver.jtis())) == expected  # every one, in log order
    assert receiver.problems == []
    assert len(receiver.jtis()) - len(expected) <= 2  # duplicates: at most what was in flight
