"""Small readers for foreign JSON payloads: objects, strings, epoch times, HMAC signatures.

Each raises `Malformed` naming the field, so a bad payload is a clear 400, never a 500.
Tests: tests/inbound/test_wso2.py and tests/inbound/test_keycloak.py (malformed bodies).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.inbound.seam import Malformed

MAX_EPOCH_S = 253_402_300_799  # 9999-12-31


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Malformed("the body is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed("the body is not a JSON object")
    return value


def obj(container: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A required object member."""
    value = container.get(key)
    if not isinstance(value, dict):
        raise Malformed(f"`{key}` must be an object")
    return value


def opt_obj(container: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """An optional object member."""
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Malformed(f"`{key}` must be an object")
    return value


def text(container: Mapping[str, Any], key: str, *, limit: int = 1024) -> str:
    """A required non-empty string member."""
    value = container.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Malformed(f"`{key}` must be a non-empty string of at most {limit} characters")
    return value


def opt_text(container: Mapping[str, Any], key: str, *, limit: int = 1024) -> str | None:
    """An optional string member (empty counts as absent)."""
    value = container.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Malformed(f"`{key}` must be a string of at most {limit} characters")
    return value


def epoch(value: Any, *, what: str, millis: bool) -> datetime:
    """An epoch time (seconds, or milliseconds with `millis`) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed(f"`{what}` must be a number (epoch {'ms' if millis else 's'})")
    seconds = value / 1000 if millis else float(value)
    if not 0 <= seconds <= MAX_EPOCH_S:
        raise Malformed(f"`{what}` is out of range")
    return datetime.fromtimestamp(seconds, UTC)


def hmac_hex(secret: bytes, body: bytes, *, digest: str = "sha256") -> str:
    """The lower-case hex HMAC of the raw body."""
    return hmac.new(secret, body, getattr(hashlib, digest)).hexdigest()


def same(given: str, expected: str) -> bool:
    """Constant-time comparison of two signature strings."""
    return hmac.compare_digest(given.strip().lower().encode(), expected.lower().encode())
