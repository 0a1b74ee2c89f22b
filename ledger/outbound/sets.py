"""Security Event Tokens and webhook messages built from a `Signal` for one receiver (pure).

SET claims follow RFC 8417 §2.2 as profiled by SSF 1.0 §4: `iss`, `iat`, `jti`, `aud`, `txn`,
`sub_id` (RFC 9493 complex subject: user `iss_sub`, session and tenant `opaque`), exactly one
member in `events`; never `sub` nor `exp`. `jti` is derived from the receiver and the ledger
event, so it is unique per receiver and stable across retries and restarts. Subject matching
follows SSF 1.0 §8.1.3.1 (members missing from a complex subject match anything).
Tests: tests/outbound/test_sets.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

import orjson

from ledger.outbound.signals import STREAM_UPDATED, VERIFICATION, Signal

JTI_NAMESPACE = UUID("9d0f4c52-7a3e-5b61-8c2d-4e5f60718293")
ALL, NONE = "ALL", "NONE"  # SSF 1.0 §7.1 default_subjects


def jti_for(receiver_id: str, event_id: str, event_type: str) -> str:
    """The stable id of the SET (or webhook message) of one event for one receiver."""
    return str(uuid5(JTI_NAMESPACE, f"{receiver_id}/{event_id}/{event_type}"))


def subject_members(signal: Signal, *, user_iss: str) -> dict[str, dict[str, str]]:
    """The members of the signal's complex subject (SSF 1.0 §3.3)."""
    members = {
        "user": {"format": "iss_sub", "iss": user_iss, "sub": signal.user_id},
        "tenant": {"format": "opaque", "id": signal.tenant},
    }
    if signal.session_id is not None:
        members["session"] = {"format": "opaque", "id": signal.session_id}
    return members


def sub_id(signal: Signal, *, user_iss: str) -> dict[str, Any]:
    """The SET's `sub_id`: a complex subject of user, session (if any) and tenant."""
    return {"format": "complex", **subject_members(signal, user_iss=user_iss)}


def set_claims(
    signal: Signal, *, issuer: str, audience: str, receiver_id: str, user_iss: str
) -> dict[str, Any]:
    """The claims of the SET telling `signal` to one receiver (RFC 8417 §2.2, SSF 1.0 §4)."""
    return {
        "iss": issuer,
        "iat": signal.issued,
        "jti": jti_for(receiver_id, signal.event_id, signal.event_type),
        "aud": audience,
        "txn": signal.txn,
        "sub_id": sub_id(signal, user_iss=user_iss),
        "events": {signal.event_type: dict(signal.claims)},
    }


def control_claims(
    *, issuer: str, audience: str, stream_id: str, event_type: str, body: dict[str, Any], jti: str
) -> dict[str, Any]:
    """A verification (SSF 1.0 §8.1.4.1) or stream-updated (§8.1.5) SET's claims."""
    assert event_type in (VERIFICATION, STREAM_UPDATED)
    return {
        "iss": issuer,
        "iat": int(datetime.now(UTC).timestamp()),
        "jti": jti,
        "aud": audience,
        "sub_id": {"format": "opaque", "id": stream_id},
        "events": {event_type: body},
    }


def webhook_message(signal: Signal) -> dict[str, Any]:
    """The Standard Webhooks payload: `type`, `timestamp` (ISO 8601), `data`."""
    when = datetime.fromtimestamp(signal.issued, UTC).isoformat().replace("+00:00", "Z")
    return {"type": signal.webhook_type, "timestamp": when, "data": dict(signal.data)}


def subject_key(subject: dict[str, Any]) -> str:
    """A canonical text of a subject (to store and compare it)."""
    return orjson.dumps(subject, option=orjson.OPT_SORT_KEYS).decode()


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return subject_key(a) == subject_key(b)


def subject_matches(subject: dict[str, Any], members: dict[str, dict[str, str]]) -> bool:
    """Whether a receiver's subject names the signal's principal (SSF 1.0 §8.1.3.1)."""
    if subject.get("format") == "complex":
        given = {k: v for k, v in subject.items() if k != "format"}
        return bool(given) and all(
            isinstance(v, dict) and k in members and _same(v, members[k]) for k, v in given.items()
        )
    return any(_same(subject, member) for member in members.values())


def wanted(
    signal: Signal,
    *,
    user_iss: str,
    default_subjects: str,
    included: list[dict[str, Any]],
    excluded: list[dict[str, Any]],
) -> bool:
    """Whether a stream gets the signal's subject: all but removed ones (ALL) or added (NONE)."""
    members = subject_members(signal, user_iss=user_iss)
    if default_subjects == NONE:
        return any(subject_matches(s, members) for s in included)
    return not any(subject_matches(s, members) for s in excluded)
