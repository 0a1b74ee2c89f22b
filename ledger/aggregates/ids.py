"""Deterministic aggregate ids: uuid5 over the tenant and the IdP's own ids.

A repeated start of the same IdP session maps to the same `Session` id, so it is detected
rather than duplicated. Tests: tests/unit/test_ids.py.
"""

from __future__ import annotations

import re
from uuid import UUID, uuid5

# Fixed for the life of the ledger: changing it would orphan every recorded aggregate.
LEDGER_NAMESPACE = UUID("6f1c2a8e-3b7d-5e4f-9a10-2c3d4e5f6a7b")

MAX_ID_LENGTH = 255
_TENANT_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,255}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_tenant(tenant: str) -> str:
    """Return `tenant` if it is a valid tenant name, else raise ValueError.

    Tenants never contain '/', so `f"{tenant}/session/{id}"` cannot collide across tenants.
    """
    if not isinstance(tenant, str) or not _TENANT_RE.match(tenant):
        msg = f"invalid tenant {tenant!r}: 1-255 characters of letters, digits and ._:@-"
        raise ValueError(msg)
    return tenant


def check_external_id(value: str, *, what: str) -> str:
    """Return `value` if it is a usable external id (user or session), else raise ValueError."""
    if not isinstance(value, str) or not value or value != value.strip():
        msg = f"invalid {what} {value!r}: must be a non-empty string without surrounding spaces"
        raise ValueError(msg)
    if len(value) > MAX_ID_LENGTH:
        msg = f"invalid {what}: longer than {MAX_ID_LENGTH} characters"
        raise ValueError(msg)
    if _CONTROL_RE.search(value):
        msg = f"invalid {what}: contains control characters"
        raise ValueError(msg)
    return value


def session_uuid(tenant: str, session_id: str) -> UUID:
    """The `Session` aggregate id of the IdP session `session_id` in `tenant`."""
    return uuid5(LEDGER_NAMESPACE, f"{tenant}/session/{session_id}")


def account_uuid(tenant: str, user_id: str) -> UUID:
    """The `Account` aggregate id of `user_id` in `tenant`."""
    return uuid5(LEDGER_NAMESPACE, f"{tenant}/user/{user_id}")


def event_uuid(aggregate_id: UUID, version: int) -> UUID:
    """A stable id for the event at `version` of `aggregate_id` (used as a `cause`)."""
    return uuid5(aggregate_id, str(version))
