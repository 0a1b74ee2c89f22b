"""Receivers (SSF streams and webhook endpoints) and their subjects, as stored rows.

Every read and write names the tenant and the owner (the token's `sub`), so a receiver only
ever sees its own streams in its own tenant (SSF 1.0 §8.1.1). Disabling a receiver drops what
it held (SSF 1.0 §8.1.2.1: a disabled stream holds nothing). A new receiver gets the events
recorded after it was created (`from_position`). Tests: tests/outbound/test_outbox.py,
tests/outbound/test_ssf_api.py.
"""

from __future__ import annotations

import time
from typing import Any

from ledger.outbound.sets import subject_key
from ledger.outbound.store import DROPPED, PENDING, OutboxStorage

COLUMNS = (
    "receiver_id, kind, tenant, owner, config, status, status_reason, from_position, secret,"
    " created_at, last_success_at, last_error, last_error_at, attempts, delivered"
)


def _row(store: OutboxStorage, row: Any) -> dict[str, Any]:
    found = dict(row)
    found["config"] = store.json_value(found["config"])
    return found


def create(
    store: OutboxStorage,
    *,
    receiver_id: str,
    kind: str,
    tenant: str,
    owner: str,
    config: dict[str, Any],
    from_position: int,
    secret: str | None = None,
) -> dict[str, Any]:
    """Store a new receiver (status enabled)."""
    with store.txn(commit=True) as c:
        c.execute(
            f"INSERT INTO {store.t('outbound_receivers')} (receiver_id, kind, tenant, owner,"
            " config, status, from_position, secret, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (receiver_id, kind, tenant, owner, store.json_param(config), "enabled",
             from_position, secret, time.time()),
        )  # fmt: skip
    found = get(store, receiver_id, tenant=tenant, owner=owner)
    assert found is not None
    return found


def ensure(
    store: OutboxStorage,
    *,
    receiver_id: str,
    kind: str,
    tenant: str,
    owner: str,
    config: dict[str, Any],
    from_position: int,
) -> None:
    """Store a receiver unless it exists (processes starting together may race here)."""
    with store.txn(commit=True) as c:
        c.execute(
            f"INSERT INTO {store.t('outbound_receivers')} (receiver_id, kind, tenant, owner,"
            " config, status, from_position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (receiver_id) DO NOTHING",
            (receiver_id, kind, tenant, owner, store.json_param(config), "enabled",
             from_position, time.time()),
        )  # fmt: skip


def reconfigure(
    store: OutboxStorage, receiver_id: str, *, kind: str, tenant: str, config: dict[str, Any]
) -> None:
    """Replace a configured receiver's kind, tenant and config, and enable it."""
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_receivers')} SET kind = ?, tenant = ?, config = ?,"
            " status = ?, status_reason = NULL WHERE receiver_id = ?",
            (kind, tenant, store.json_param(config), "enabled", receiver_id),
        )


def get(
    store: OutboxStorage, receiver_id: str, *, tenant: str, owner: str | None
) -> dict[str, Any] | None:
    """One receiver of `owner` in `tenant` (any owner when None: operators)."""
    table = store.t("outbound_receivers")
    sql = f"SELECT {COLUMNS} FROM {table} WHERE receiver_id = ? AND tenant = ?"
    params: tuple[Any, ...] = (receiver_id, tenant)
    if owner is not None:
        sql, params = sql + " AND owner = ?", (*params, owner)
    with store.read() as c:
        c.execute(sql, params)
        row = c.fetchone()
    return _row(store, row) if row is not None else None


def find(
    store: OutboxStorage, *, tenant: str | None, owner: str | None, kind: str | None
) -> list[dict[str, Any]]:
    """Receivers, oldest first, filtered by tenant, owner and kind (None: any)."""
    where, params = ["1 = 1"], []
    for column, value in (("tenant", tenant), ("owner", owner), ("kind", kind)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    with store.read() as c:
        c.execute(
            f"SELECT {COLUMNS} FROM {store.t('outbound_receivers')} WHERE {' AND '.join(where)}"
            " ORDER BY created_at, receiver_id",
            params,
        )
        return [_row(store, row) for row in c.fetchall()]


def replace_config(store: OutboxStorage, receiver_id: str, config: dict[str, Any]) -> None:
    """Store a receiver's new configuration."""
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_receivers')} SET config = ? WHERE receiver_id = ?",
            (store.json_param(config), receiver_id),
        )


def delete(store: OutboxStorage, receiver_id: str) -> None:
    """Forget a receiver, its subjects and its outbox."""
    with store.txn(commit=True) as c:
        for table in ("outbound_outbox", "outbound_subjects", "outbound_receivers"):
            c.execute(f"DELETE FROM {store.t(table)} WHERE receiver_id = ?", (receiver_id,))


def set_status(store: OutboxStorage, receiver_id: str, status: str, reason: str | None) -> None:
    """Change the status; disabling drops every event held for the receiver."""
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_receivers')} SET status = ?, status_reason = ?"
            " WHERE receiver_id = ?",
            (status, reason, receiver_id),
        )
        if status == "disabled":
            c.execute(
                f"UPDATE {store.t('outbound_outbox')} SET state = ?, done_at = ?"
                " WHERE receiver_id = ? AND state = ?",
                (DROPPED, time.time(), receiver_id, PENDING),
            )


def set_subject(
    store: OutboxStorage, receiver_id: str, subject: dict[str, Any], *, included: bool
) -> None:
    """Include (added) or exclude (removed) a subject for a stream."""
    with store.txn(commit=True) as c:
        c.execute(
            f"INSERT INTO {store.t('outbound_subjects')} (receiver_id, subject_key, subject,"
            " included) VALUES (?, ?, ?, ?) ON CONFLICT (receiver_id, subject_key)"
            " DO UPDATE SET included = excluded.included",
            (receiver_id, subject_key(subject), store.json_param(subject), int(included)),
        )


def enqueue(store: OutboxStorage, receiver_id: str, *, msg_id: str, body: dict[str, Any]) -> None:
    """Queue a message made by the transmitter itself (verification, stream-updated)."""
    with store.txn(commit=True) as c:
        c.execute(
            f"INSERT INTO {store.t('outbound_outbox')} (receiver_id, position, msg_id, body,"
            " state) VALUES (?, NULL, ?, ?, ?) ON CONFLICT (receiver_id, msg_id) DO NOTHING",
            (receiver_id, msg_id, store.json_param(body), PENDING),
        )
