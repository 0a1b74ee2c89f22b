"""P2's baseline projection: a process that copies raw rows to a second table on NOTIFY.

It is the least a projection can do (listen, read what is new, write it and commit), so its
lag is the floor the ledger's projections are compared with. Run: `python -m bench.relay URL`.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import psycopg

CHANNEL = "raw_events_channel"
COPY_DDL = (
    "CREATE TABLE IF NOT EXISTS raw_copy (notification_id bigint PRIMARY KEY,"
    " originator_id uuid, state bytea)"
)


def relay(conninfo: str) -> None:
    """Copy new raw rows into `raw_copy` whenever notified (and every 100 ms)."""
    stop = False

    def halt(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, halt)
    with (
        psycopg.connect(conninfo, autocommit=True) as listener,
        psycopg.connect(conninfo) as work,
    ):
        listener.execute(f"LISTEN {CHANNEL}")
        work.execute(COPY_DDL)
        work.commit()
        row = work.execute("SELECT COALESCE(MAX(notification_id), 0) FROM raw_copy").fetchone()
        last = int(row[0]) if row else 0
        while not stop:
            for _ in listener.notifies(timeout=0.1, stop_after=1):
                pass
            rows = work.execute(
                "SELECT notification_id, originator_id, state FROM raw_events"
                " WHERE notification_id > %s ORDER BY notification_id LIMIT 5000",
                (last,),
            ).fetchall()
            if rows:
                with work.cursor() as cur:
                    cur.executemany("INSERT INTO raw_copy VALUES (%s, %s, %s)", rows)
                last = rows[-1][0]
            work.commit()


if __name__ == "__main__":
    relay(sys.argv[1])
