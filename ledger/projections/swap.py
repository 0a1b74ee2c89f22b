"""The swap protocol: a rebuilt (scratch) view replaces the live one, atomically.

Under a lock that holds the live view's writers (SQLite's write lock; on PostgreSQL an
ACCESS EXCLUSIVE lock on the live tracking table), the scratch view is first brought to the
live view's position with `fill(after, upto)` (the log's events in that range), in the same
transaction, then its tables and indexes take the live ones' names: no event is lost or
applied twice, however fast the live view moves. Used by `ledger.projections.rebuild`.
Tests: tests/integration/test_rebuild.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from psycopg import sql

from ledger.names import LOG_NAME, tracking_table
from ledger.projections.deltas import fold
from ledger.projections.storage import QMarkCursor

Fill = Callable[[int, int], list[Any]]
"""The log's events with positions in (after, upto], decoded as the views read them."""


def swap_in(live: Any, scratch: Any, fill: Fill) -> None:
    """Replace `live`'s tables by `scratch`'s (tracking included), atomically."""
    if live.dialect == "sqlite":
        _swap_sqlite(live, scratch, fill)
    else:
        _swap_postgres(live, scratch, fill)


def _tracked(c: Any, view: Any) -> int:
    """A view's tracking position, read through cursor `c` (0 when none)."""
    if view.dialect == "sqlite":
        c.execute(view.select_max_tracking_id_statement, (LOG_NAME,))
        return int(c.fetchone()[0] or 0)
    c.execute(view.max_tracking_id_statement, (LOG_NAME,))
    return int(c.fetchone()["max"] or 0)


def _catch_up_in(c: Any, live: Any, scratch: Any, fill: Fill) -> None:
    """Bring `scratch` to `live`'s position inside the caller's (locked) transaction."""
    live_at, scratch_at = _tracked(c, live), _tracked(c, scratch)
    if live_at > scratch_at:
        events = fill(scratch_at, live_at)
        scratch.apply_rows(c, fold(events), Tracking(LOG_NAME, live_at))


def _swap_sqlite(live: Any, scratch: Any, fill: Fill) -> None:
    """Under SQLite's write lock: catch the scratch view up, drop live, rename scratch."""
    tables = [*live.view_tables(), tracking_table(live.name)]
    with live.datastore.get_connection(commit=True) as conn:
        c = conn.cursor()
        c.execute("BEGIN IMMEDIATE")
        try:
            _catch_up_in(c, live, scratch, fill)
            for table in tables:
                c.execute(f"DROP TABLE IF EXISTS {live.prefix}{table}")
            for table in tables:
                c.execute(f"ALTER TABLE {scratch.prefix}{table} RENAME TO {live.prefix}{table}")
            c.execute("SELECT name FROM sqlite_master WHERE type='index'")
            for row in c.fetchall():
                if row[0].startswith(scratch.prefix):
                    c.execute(f"DROP INDEX IF EXISTS {row[0]}")
            for statement in live.view_ddl():
                c.execute(statement)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def _swap_postgres(live: Any, scratch: Any, fill: Fill) -> None:
    """Lock the live tracking table, catch the scratch view up, swap tables and indexes."""
    schema = live.datastore.schema
    tables = [*live.view_tables(), tracking_table(live.name)]
    with live.datastore.transaction(commit=True) as c:
        live_tracking = sql.Identifier(schema, live.tracking_table_name)
        c.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(live_tracking))
        _catch_up_in(QMarkCursor(c), live, scratch, fill)
        _swap_pg_tables(live, c, scratch.prefix, tables)


def _swap_pg_tables(live: Any, c: Any, scratch_prefix: str, tables: list[str]) -> None:
    schema = live.datastore.schema
    for table in tables:
        c.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, live.prefix + table))
        )
    for table in tables:
        c.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(schema, scratch_prefix + table),
                sql.Identifier(live.prefix + table),
            )
        )
    c.execute("SELECT indexname FROM pg_indexes WHERE schemaname=%s", (schema,))
    for row in c.fetchall():
        old = row["indexname"]
        if old.startswith(scratch_prefix):
            c.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(schema, old),
                    sql.Identifier(live.prefix + old[len(scratch_prefix) :]),
                )
            )
