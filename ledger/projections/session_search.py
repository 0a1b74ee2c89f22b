"""The tenant-wide search of `active_sessions`: filters, both orders, keyset pages, counts.

`SessionFilter` narrows by user id (exact or prefix), application, address (exact or a CIDR
network) and start time. Everything but the network is a SQL condition on an index of the
view; a network is checked in this process over the rows the SQL conditions leave, read in
keyset order in chunks until the page is full (cost: the rows scanned, not the rows shown).
Pages are keyset-paginated on (started_at, session key), newest or oldest first, so a
session present throughout is never skipped or repeated.
Tests: tests/integration/test_views_contract.py, tests/api/test_console_api.py.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.projections.deltas import to_us
from ledger.projections.pages import Page, check_limit, decode_cursor, encode_cursor
from ledger.projections.rows import START_COLUMNS, as_uuid, record_from_row

if TYPE_CHECKING:
    from ledger.projections.active_sessions import ActiveSessionsView

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
CHUNK = 500


@dataclass(frozen=True)
class SessionFilter:
    """Filters of the tenant-wide list; all optional."""

    user_id: str | None = None
    application_id: str | None = None
    ip: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    user_prefix: str | None = None
    network: Network | None = None


@dataclass(frozen=True)
class Query:
    """The SQL of a filtered read: FROM, WHERE (with `?` parameters), ordering table alias."""

    source: str
    where: list[str]
    params: list[Any]
    alias: str


def build(view: ActiveSessionsView, tenant: str, now: datetime, f: SessionFilter) -> Query:
    """The FROM and WHERE of the open sessions of `tenant` that `f` selects (but the network)."""
    s, a = view.t("active_sessions"), view.t("active_session_apps")
    o = "a" if f.application_id else "s"
    source = f"{a} a JOIN {s} s ON s.session_key = a.session_key" if o == "a" else f"{s} s"
    where: list[str] = [f"{o}.tenant = ?", "s.expires_at > ?"]
    params: list[Any] = [tenant, to_us(now)]
    prefix_end = f.user_prefix + "\U0010ffff" if f.user_prefix else None
    for clause, value in (
        ("a.app_id = ?", f.application_id),
        ("s.user_id = ?", f.user_id),
        ("s.user_id >= ?", f.user_prefix),
        ("s.user_id < ?", prefix_end),
        ("s.ip = ?", f.ip),
        (f"{o}.started_at >= ?", f.started_after and to_us(f.started_after)),
        (f"{o}.started_at < ?", f.started_before and to_us(f.started_before)),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    return Query(source, where, params, o)


def in_network(ip: str | None, network: Network | None) -> bool:
    """True when there is no network, or `ip` is an address inside it."""
    if network is None:
        return True
    if ip is None:
        return False
    try:
        return ipaddress.ip_address(ip) in network
    except ValueError:
        return False


def _scan(
    view: ActiveSessionsView, q: Query, *, after: tuple[int, Any] | None, oldest_first: bool
) -> Iterator[Any]:
    """The rows `q` selects after the keyset position `after`, in order, read in chunks."""
    o, cmp, order = q.alias, (">" if oldest_first else "<"), ("ASC" if oldest_first else "DESC")
    columns = ", ".join(f"s.{c}" for c in START_COLUMNS)
    while True:
        where, params = list(q.where), list(q.params)
        if after is not None:
            where.append(f"({o}.started_at, {o}.session_key) {cmp} (?, ?)")
            params += list(after)
        with view.read() as c:
            c.execute(
                f"SELECT {columns} FROM {q.source} WHERE {' AND '.join(where)}"
                f" ORDER BY {o}.started_at {order}, {o}.session_key {order} LIMIT ?",
                (*params, CHUNK),
            )
            rows = c.fetchall()
        yield from rows
        if len(rows) < CHUNK:
            return
        after = (rows[-1]["started_at"], rows[-1]["session_key"])


def list_sessions(
    view: ActiveSessionsView,
    tenant: str,
    *,
    now: datetime,
    filters: SessionFilter | None = None,
    limit: int = 50,
    cursor: str | None = None,
    oldest_first: bool = False,
) -> Page:
    """One page of the tenant's open sessions that `filters` select, newest (or oldest) first."""
    f, limit = filters or SessionFilter(), check_limit(limit)
    after = None
    if cursor is not None:
        started_us, key = decode_cursor(cursor)
        after = (started_us, view.key(key))
    rows: list[Any] = []
    for row in _scan(view, build(view, tenant, now, f), after=after, oldest_first=oldest_first):
        if in_network(row["ip"], f.network):
            rows.append(row)
            if len(rows) > limit:
                break
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last["started_at"], as_uuid(last["session_key"]))
    return Page([record_from_row(r, view) for r in rows[:limit]], next_cursor)


def count_sessions(
    view: ActiveSessionsView, tenant: str, *, now: datetime, filters: SessionFilter | None = None
) -> tuple[int, int]:
    """(open sessions, distinct users) of the tenant that `filters` select."""
    f = filters or SessionFilter()
    q = build(view, tenant, now, f)
    with view.read() as c:
        if f.network is None:
            c.execute(
                f"SELECT COUNT(*) AS n, COUNT(DISTINCT s.user_id) AS u FROM {q.source}"
                f" WHERE {' AND '.join(q.where)}",
                tuple(q.params),
            )
            row = c.fetchone()
            return int(row["n"]), int(row["u"])
        c.execute(
            f"SELECT s.user_id, s.ip FROM {q.source} WHERE {' AND '.join(q.where)}",
            tuple(q.params),
        )
        found = [r["user_id"] for r in c.fetchall() if in_network(r["ip"], f.network)]
    return len(found), len(set(found))
