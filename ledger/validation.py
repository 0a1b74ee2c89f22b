"""The one home of input checks, shared by the API, the inbound adapters, the CLI and Python.

Each check returns the normalised value or raises `InvalidInput` (a `ValueError` too) saying
what is wrong. The domain's limits (clock skew, timeouts, reasons) are defined in
`ledger.aggregates.rules`; this module applies them to what callers send.
Tests: tests/unit/test_validation.py, tests/unit/test_ids.py, tests/unit/test_rules.py.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.aggregates.errors import FutureTimestamp, InvalidInput
from ledger.aggregates.rules import MAX_CLOCK_SKEW, MAX_TIMEOUT_S, TerminationReason

MAX_ID_LENGTH = 255
MAX_USER_AGENT = 1024
MAX_NAME = 255
MAX_AUTH_METHODS = 16
MAX_AUTH_METHOD = 64
MAX_ACTOR = 255
MAX_CAUSE = 512
TENANT_PATTERN = r"^[A-Za-z0-9._:@-]{1,255}$"
ID_PATTERN = r"^[^\s\x00-\x1f\x7f]([^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$"
"""An external id as a regular expression (the API's OpenAPI document publishes it)."""
_TENANT_RE = re.compile(TENANT_PATTERN)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def tenant(value: str) -> str:
    """A tenant name. Tenants never contain '/', so ids built from them cannot collide."""
    if not isinstance(value, str) or not _TENANT_RE.match(value):
        msg = f"invalid tenant {value!r}: 1-255 characters of letters, digits and ._:@-"
        raise InvalidInput(msg)
    return value


def external_id(value: str, *, what: str) -> str:
    """A user id or session id from the IdP."""
    if not isinstance(value, str) or not value or value != value.strip():
        msg = f"invalid {what} {value!r}: must be a non-empty string without surrounding spaces"
        raise InvalidInput(msg)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"invalid {what}: longer than {MAX_ID_LENGTH} characters")
    if _CONTROL_RE.search(value):
        raise InvalidInput(f"invalid {what}: contains control characters")
    return value


def reason(value: str, *, allowed: frozenset[TerminationReason] | None = None) -> str:
    """A termination reason's plain string value (one of `allowed` when given)."""
    try:
        checked: TerminationReason | None = TerminationReason(value)
    except ValueError:
        checked = None
    if checked is None or (allowed is not None and checked not in allowed):
        names = sorted(r.value for r in (allowed or TerminationReason))
        raise InvalidInput(f"invalid reason {value!r}: expected one of {', '.join(names)}")
    return checked.value


def timeout(value: int, *, what: str) -> int:
    """A timeout in whole seconds, 1 s .. 366 days."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT_S:
        raise InvalidInput(f"invalid {what} {value!r}: whole seconds from 1 to {MAX_TIMEOUT_S}")
    return value


def client_time(at: datetime, now: datetime) -> datetime:
    """A client-supplied time in UTC: timezone-aware, not beyond the clock skew ahead of `now`."""
    if at.tzinfo is None or at.utcoffset() is None:
        msg = f"time {at.isoformat()} has no timezone; send RFC 3339 with Z or an offset"
        raise InvalidInput(msg)
    at = at.astimezone(UTC)
    if at > now + MAX_CLOCK_SKEW:
        msg = (
            f"time {at.isoformat()} lies more than {int(MAX_CLOCK_SKEW.total_seconds() // 60)}"
            f" minutes in the future (server time {now.isoformat()})"
        )
        raise FutureTimestamp(msg)
    return at


def ip(value: str | None) -> str | None:
    """An IPv4 or IPv6 address, in its canonical form."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidInput(f"invalid IP address {value!r}") from None


def network(value: str | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An IP address or a CIDR range (`203.0.113.0/24`, `2001:db8::/32`); host bits are ignored."""
    if value is None:
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except (ValueError, AttributeError):
        raise InvalidInput(f"invalid IP address or CIDR range {value!r}") from None


def text(value: str | None, *, what: str, limit: int) -> str | None:
    """Free text with a length limit (user agent, actor, cause)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"invalid {what}: expected a string")
    if len(value) > limit:
        raise InvalidInput(f"invalid {what}: longer than {limit} characters")
    if "\x00" in value:  # PostgreSQL cannot store it: the projections would stall on it
        raise InvalidInput(f"invalid {what}: contains a NUL character")
    return value


def application(value: Mapping[str, Any] | None) -> dict[str, str] | None:
    """An application reference `{id, name}`; the name defaults to the id."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"id", "name"}:
        raise InvalidInput("invalid application: expected {id, name}")
    app_id = external_id(value.get("id"), what="application id")  # type: ignore[arg-type]
    name = value.get("name") or app_id
    name = text(name, what="application name", limit=MAX_NAME) or app_id
    return {"id": app_id, "name": name}


def auth_methods(value: Sequence[str] | None) -> list[str]:
    """The authentication methods of a session start (`pwd`, `otp`, `webauthn`...)."""
    if value is None:
        return []
    if isinstance(value, str) or len(value) > MAX_AUTH_METHODS:
        raise InvalidInput(f"invalid auth_methods: a list of at most {MAX_AUTH_METHODS} names")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item or len(item) > MAX_AUTH_METHOD or "\x00" in item:
            raise InvalidInput(f"invalid auth method {item!r}")
        if item not in out:
            out.append(item)
    return out


def actor(value: str) -> str:
    """Who did it: a user id, an admin id, a client id or `system`."""
    checked = text(value, what="actor", limit=MAX_ACTOR)
    if not checked:
        raise InvalidInput("invalid actor: empty")
    return checked
