"""The seam's guarantees, with a real adapter (wso2), a real ledger and a real seen store: a
message whose commands fail for a transient reason is forgotten (the sender's retry records
it); a refusal by the ledger's rules is acknowledged and remembered; unused types are not."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.application import SessionLedger
from ledger.inbound.seam import Connection, Inbound, InboundRequest
from ledger.inbound.wso2 import Wso2Adapter
from ledger.outcomes import Outcome
from ledger.persistence.schema import prepare_database
from ledger.persistence.seen_store import open_seen_store
from ledger.persistence.url import DatabaseURL
from tests.conftest import FakeClock

SECRET = b"seam-test-secret-0123456789"
BASE = "https://schemas.identity.wso2.org/events/"
ADAPTER = Wso2Adapter(Connection(name="w", kind="wso2", tenant="t", secret=SECRET))


def request(jti: str, event: str, payload: dict[str, Any], *, iat: datetime) -> InboundRequest:
    body = json.dumps(
        {
            "iss": "x",
            "jti": jti,
            "iat": int(iat.timestamp() * 1000),
            "events": {BASE + event: payload},
        }
    ).encode()
    signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    return InboundRequest("POST", {"x-hub-signature": signature}, {}, body)


def started(jti: str, sid: str, at: datetime) -> InboundRequest:
    payload = {"user": {"id": "u"}, "session": {"id": sid, "loginTime": int(at.timestamp() * 1000)}}
    return request(jti, "session/event-type/sessionEstablished", payload, iat=at)


@pytest.fixture
def parts(
    tmp_path: Path,
) -> Iterator[tuple[SessionLedger, Inbound, list[tuple[str, ...]], FakeClock]]:
    url = DatabaseURL.parse(f"sqlite:///{tmp_path}/l.sqlite3")
    prepare_database(url)
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    ledger = SessionLedger(url.library_env(pool_size=2), clock=clock)
    counted: list[tuple[str, ...]] = []
    seen = open_seen_store(url)
    yield (
        ledger,
        Inbound(seen=seen, count=lambda *a: counted.append(a), clock=clock),
        counted,
        clock,
    )
    seen.close()
    ledger.close()


def direct(_: str, command: Callable[[], Outcome]) -> Outcome:
    return command()


def test_a_transient_failure_forgets_the_message_so_the_retry_records_it(parts: Any) -> None:
    ledger, inbound, counted, clock = parts

    def outage(_: str, command: Callable[[], Outcome]) -> Outcome:
        raise sqlite3.OperationalError("database is locked")

    message = started("j-1", "s-1", clock())
    with pytest.raises(sqlite3.OperationalError):
        inbound.receive(ADAPTER, message, ledger=ledger, run=outage)
    assert inbound.receive(ADAPTER, message, ledger=ledger, run=direct).status == 200
    assert counted[-2:] == [("w", "wso2", "error"), ("w", "wso2", "recorded")]
    assert inbound.receive(ADAPTER, message, ledger=ledger, run=direct).status == 200
    assert counted[-1] == ("w", "wso2", "duplicate")


def test_a_refusal_by_the_ledgers_rules_is_acknowledged_and_remembered(parts: Any) -> None:
    ledger, inbound, counted, _ = parts
    future = datetime(2026, 3, 1, 13, 0, tzinfo=UTC)  # an hour ahead of the ledger's clock
    message = started("j-2", "s-2", future)
    assert inbound.receive(ADAPTER, message, ledger=ledger, run=direct).status == 200
    assert counted[-1] == ("w", "wso2", "rejected")
    assert inbound.receive(ADAPTER, message, ledger=ledger, run=direct).status == 200
    assert counted[-1] == ("w", "wso2", "duplicate")


def test_an_unused_type_is_ignored_and_not_remembered(parts: Any) -> None:
    ledger, inbound, counted, clock = parts
    message = request("j-3", "token/event-type/accessTokenIssued", {}, iat=clock())
    for _ in range(2):
        assert inbound.receive(ADAPTER, message, ledger=ledger, run=direct).status == 200
    assert counted == [("w", "wso2", "ignored"), ("w", "wso2", "ignored")]
