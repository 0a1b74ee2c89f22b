"""SSF stream configurations (SSF 1.0 §8.1.1): what a receiver asks for, what is stored, and
what it is shown. Pure functions; the HTTP layer is `ledger.api.ssf`.

Transmitter-supplied members (`stream_id`, `iss`, `aud`, `events_supported`,
`events_delivered`) are set here; when a request repeats one it must match (§8.1.1.3).
`events_delivered` is the intersection of requested and supported. A push `endpoint_url` is
checked against the SSRF guard; a poll stream's `endpoint_url` is the transmitter's.
Tests: tests/outbound/test_ssf_api.py.
"""

from __future__ import annotations

from typing import Any

from ledger.outbound.http import url_problem
from ledger.outbound.signals import EVENTS_SUPPORTED

PUSH, POLL = "urn:ietf:rfc:8935", "urn:ietf:rfc:8936"  # SSF 1.0 §6
RECEIVER_MEMBERS = ("events_requested", "delivery", "description")
TRANSMITTER_MEMBERS = ("stream_id", "iss", "aud", "events_supported", "events_delivered")
MAX_AUTH_HEADER = 4096


class StreamError(ValueError):
    """A stream request that cannot be honoured (400)."""


def _delivery(value: Any, *, stream_id: str, poll_url: str, allow_private: bool) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StreamError("delivery: an object with method (and endpoint_url for push)")
    method = value.get("method")
    if method == POLL:
        return {"method": POLL, "endpoint_url": poll_url}
    if method != PUSH:
        raise StreamError(f"delivery.method: {PUSH} or {POLL}")
    url = value.get("endpoint_url")
    if not isinstance(url, str):
        raise StreamError("delivery.endpoint_url: required for push delivery")
    problem = url_problem(url, allow_private=allow_private)
    if problem is not None:
        raise StreamError(f"delivery.endpoint_url: {problem}")
    delivery: dict[str, Any] = {"method": PUSH, "endpoint_url": url}
    header = value.get("authorization_header")
    if header is not None:
        if not isinstance(header, str) or len(header) > MAX_AUTH_HEADER or "\n" in header:
            raise StreamError("delivery.authorization_header: one line of text")
        delivery["authorization_header"] = header
    return delivery


def build_config(
    body: dict[str, Any],
    *,
    existing: dict[str, Any] | None,
    transmitter: dict[str, Any],
    poll_url: str,
    allow_private: bool,
    replace: bool,
) -> dict[str, Any]:
    """The stored configuration after a create (no `existing`), update or replace."""
    stream_id = transmitter["stream_id"]
    shown = public(stream_id, existing) if existing else {}
    for name in TRANSMITTER_MEMBERS:
        if name in body and existing is not None and body[name] != shown.get(name):
            raise StreamError(f"{name}: set by the transmitter; it cannot be changed")
    base = {} if existing is None or replace else dict(existing)
    config = {**base, **{k: v for k, v in transmitter.items() if k != "stream_id"}}
    requested = body.get("events_requested", base.get("events_requested", []))
    if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
        raise StreamError("events_requested: an array of event type URIs")
    config["events_requested"] = requested
    config["events_delivered"] = [e for e in EVENTS_SUPPORTED if e in requested]
    if "delivery" in body or "delivery" not in base:
        config["delivery"] = _delivery(
            body.get("delivery", {"method": POLL}), stream_id=stream_id, poll_url=poll_url,
            allow_private=allow_private,
        )  # fmt: skip
    description = body.get("description", base.get("description"))
    if description is not None and not isinstance(description, str):
        raise StreamError("description: text")
    config["description"] = description
    return config


def public(stream_id: str, config: dict[str, Any]) -> dict[str, Any]:
    """The stream configuration as the receiver sees it (no authorization header back)."""
    delivery = {k: v for k, v in config["delivery"].items() if k != "authorization_header"}
    shown: dict[str, Any] = {
        "stream_id": stream_id,
        "iss": config["iss"],
        "aud": config["aud"],
        "events_supported": list(EVENTS_SUPPORTED),
        "events_requested": config["events_requested"],
        "events_delivered": config["events_delivered"],
        "delivery": delivery,
    }
    if config.get("description") is not None:
        shown["description"] = config["description"]
    return shown


POLL_DEFAULT_MAX = 50


def parse_poll(body: dict[str, Any]) -> tuple[int, bool, list[str], dict[str, str]]:
    """RFC 8936 §2.4 request members: maxEvents, returnImmediately, ack, setErrs."""
    max_events = body.get("maxEvents", POLL_DEFAULT_MAX)
    immediately = body.get("returnImmediately", False)
    acks = body.get("ack", [])
    set_errs = body.get("setErrs", {})
    valid = (
        isinstance(max_events, int) and not isinstance(max_events, bool) and 0 <= max_events <= 1000
        and isinstance(immediately, bool)
        and isinstance(acks, list) and all(isinstance(a, str) for a in acks)
        and isinstance(set_errs, dict) and all(isinstance(v, dict) for v in set_errs.values())
    )  # fmt: skip
    if not valid:
        raise StreamError(
            "RFC 8936 §2.4: maxEvents 0-1000, returnImmediately boolean, ack an array of jti,"
            " setErrs an object of jti -> {err, description}"
        )
    errors = {jti: f"{e.get('err')}: {e.get('description', '')}" for jti, e in set_errs.items()}
    return max_events, immediately, acks, errors
