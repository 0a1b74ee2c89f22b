"""Checks on command inputs, shared by the API, the CLI and Python callers.

Each check returns the normalised value or raises `InvalidInput` saying what is wrong.
Tests: tests/unit/test_validation.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.aggregates.errors import InvalidInput
from ledger.aggregates.ids import MAX_ID_LENGTH, check_external_id, check_tenant

MAX_USER_AGENT = 1024
MAX_NAME = 255
MAX_AUTH_METHODS = 16
MAX_AUTH_METHOD = 64
MAX_ACTOR = 255
MAX_CAUSE = 512


def tenant(value: str) -> str:
    """A tenant name."""
    try:
        return check_tenant(value)
    except ValueError as e:
        raise InvalidInput(str(e)) from None


def external_id(value: str, *, what: str) -> str:
    """A user id or session id from the IdP."""
    try:
        return check_external_id(value, what=what)
    except ValueError as e:
        raise InvalidInput(str(e)) from None


def ip(value: str | None) -> str | None:
    """An IPv4 or IPv6 address, in its canonical form."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except (ValueError, AttributeError):
        raise InvalidInput(f"invalid IP address {value!r}") from None


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


__all__ = [
    "MAX_ID_LENGTH",
    "actor",
    "application",
    "auth_methods",
    "external_id",
    "ip",
    "tenant",
    "text",
]
