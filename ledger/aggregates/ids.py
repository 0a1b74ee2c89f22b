"""Deterministic aggregate ids: uuid5 over the tenant and the IdP's own ids.

A repeated start of the same IdP session maps to the same `Session` id, so it is detected
rather than duplicated. The ids themselves are checked in `ledger.validation`.
Tests: tests/unit/test_ids.py.
"""

from __future__ import annotations

from uuid import UUID, uuid5

# Fixed for the life of the ledger: changing it would orphan every recorded aggregate.
LEDGER_NAMESPACE = UUID("6f1c2a8e-3b7d-5e4f-9a10-2c3d4e5f6a7b")


def session_uuid(tenant: str, session_id: str) -> UUID:
    """The `Session` aggregate id of the IdP session `session_id` in `tenant`."""
    return uuid5(LEDGER_NAMESPACE, f"{tenant}/session/{session_id}")


def account_uuid(tenant: str, user_id: str) -> UUID:
    """The `Account` aggregate id of `user_id` in `tenant`."""
    return uuid5(LEDGER_NAMESPACE, f"{tenant}/user/{user_id}")


def event_uuid(aggregate_id: UUID, version: int) -> UUID:
    """A stable id for the event at `version` of `aggregate_id` (used as a `cause`)."""
    return uuid5(aggregate_id, str(version))
