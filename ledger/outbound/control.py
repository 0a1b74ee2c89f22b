"""Messages the transmitter makes itself: verification (SSF 1.0 §8.1.4) and stream-updated
(SSF 1.0 §8.1.5), and the transmitter-initiated disabling of a receiver that never answers.

Both SETs use `sub_id = {"format": "opaque", "id": <stream_id>}`. They are queued in the
receiver's outbox like any other message, behind what is already pending.
Tests: tests/outbound/test_ssf_api.py, tests/outbound/test_delivery.py.
"""

from __future__ import annotations

import uuid
from typing import Any

from ledger.outbound import receivers
from ledger.outbound.sets import control_claims
from ledger.outbound.signals import STREAM_UPDATED, VERIFICATION
from ledger.outbound.store import SSF, OutboxStorage


def _enqueue(
    store: OutboxStorage, receiver: dict[str, Any], event_type: str, body: dict[str, Any]
) -> str:
    jti = str(uuid.uuid4())
    config = receiver["config"]
    claims = control_claims(
        issuer=config["iss"], audience=config["aud"], stream_id=receiver["receiver_id"],
        event_type=event_type, body=body, jti=jti,
    )  # fmt: skip
    receivers.enqueue(store, receiver["receiver_id"], msg_id=jti, body=claims)
    return jti


def verify(store: OutboxStorage, receiver: dict[str, Any], state: str | None) -> str:
    """Queue a verification SET echoing `state` (SSF 1.0 §8.1.4.2)."""
    return _enqueue(store, receiver, VERIFICATION, {"state": state} if state else {})


def disable(store: OutboxStorage, receiver: dict[str, Any], reason: str) -> None:
    """Disable a receiver (dropping what it held) and tell an SSF receiver why."""
    receivers.set_status(store, receiver["receiver_id"], "disabled", reason)
    if receiver["kind"] == SSF:
        _enqueue(store, receiver, STREAM_UPDATED, {"status": "disabled", "reason": reason})
