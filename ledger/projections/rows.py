"""Row layout shared by the two views: the columns of a session's start, and records."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.projections.deltas import from_us
from ledger.records import SessionRecord

START_COLUMNS = [
    "session_key",
    "tenant",
    "session_id",
    "user_id",
    "started_at",
    "last_active_at",
    "expires_at",
    "hard_expires_at",
    "idle_timeout_s",
    "ip",
    "user_agent",
    "applications",
    "auth_methods",
]
END_COLUMNS = ["ended_at", "termination_reason", "terminated_by", "termination_cause"]
JSON_COLUMNS = frozenset({"applications", "auth_methods"})


def as_uuid(value: Any) -> UUID:
    """A session key read back from either database."""
    return value if isinstance(value, UUID) else UUID(hex=value)


def start_values(key: Any, row: dict[str, Any], view: Any) -> tuple[Any, ...]:
    """Parameters for START_COLUMNS from `SessionDelta.start_row()`."""
    return (
        key,
        row["tenant"],
        row["session_id"],
        row["user_id"],
        row["started_at"],
        row["last_active_at"],
        row["expires_at"],
        row["hard_expires_at"],
        row["idle_timeout_s"],
        row["ip"],
        row["user_agent"],
        view.json_param(row["applications"]),
        view.json_param(row["auth_methods"]),
    )


def record_from_row(r: Any, view: Any) -> SessionRecord:
    """A SessionRecord from a row holding START_COLUMNS (and END_COLUMNS when present)."""
    keys = r.keys()
    ended = r["ended_at"] if "ended_at" in keys else None
    return SessionRecord(
        id=r["session_id"],
        tenant=r["tenant"],
        user_id=r["user_id"],
        started_at=from_us(r["started_at"]),
        last_active_at=from_us(r["last_active_at"]),
        expires_at=from_us(r["expires_at"]),
        ip=r["ip"],
        user_agent=r["user_agent"],
        applications=view.json_value(r["applications"]),
        auth_methods=view.json_value(r["auth_methods"]),
        ended_at=from_us(ended) if ended is not None else None,
        termination_reason=r["termination_reason"] if "termination_reason" in keys else None,
        terminated_by=r["terminated_by"] if "terminated_by" in keys else None,
        termination_cause=r["termination_cause"] if "termination_cause" in keys else None,
        idle_timeout_s=int(r["idle_timeout_s"]),
        max_lifetime_s=(r["hard_expires_at"] - r["started_at"]) // 1_000_000,
    )


def plain_row(table: str, r: Any, columns: list[str], view: Any) -> tuple[Any, ...]:
    """A row as comparable plain values: key as hex, JSON as canonical text."""
    values: list[Any] = [table]
    for name in columns:
        value = r[name]
        if name == "session_key":
            value = as_uuid(value).hex
        elif name in JSON_COLUMNS:
            value = repr(view.json_value(value))
        values.append(value)
    return tuple(values)


def json_append_sql(dialect: str) -> str:
    """SQL that appends one application (the parameter) to the `applications` column."""
    if dialect == "sqlite":
        return "json_insert(applications, '$[#]', json(?))"
    return "applications || ?"


def json_append_param(view: Any, app: dict[str, str]) -> Any:
    """The parameter for `json_append_sql`."""
    if view.dialect == "sqlite":
        return view.json_param(app)
    return view.json_param([app])


def activity_update_sql(view: Any, table: str) -> str:
    """UPDATE of last activity, address and expiry (params: at, ip, at, key).

    The expiry is `ledger.aggregates.rules.expires_at` in SQL
    (held equal by tests/properties/test_expiry_rule.py).
    """
    gt, lt = view.greatest(), view.least()
    return (
        f"UPDATE {table} SET last_active_at = {gt}(last_active_at, ?),"
        f" ip = COALESCE(?, ip), expires_at = {lt}({gt}(last_active_at, ?)"
        " + idle_timeout_s * 1000000, hard_expires_at) WHERE session_key = ?"
    )
