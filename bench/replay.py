"""R1: the auditors' `ledger-replay` on a seeded log (shared with P1).

* full replay: `ledger-replay export` of the whole log (every event read, decoded, written as
  JSON lines), events/s after subtracting the command's fixed start-up cost (measured with an
  empty export), against a raw ordered scan of the events table;
* `verify` (when P1 filled the views): both views rebuilt into scratch tables and diffed;
* `history --at`: one user with about 1,000 events, called in-process as the command does,
  against a raw fetch of the same rows by aggregate id.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import raw
from bench.core import Row, Sizes, ms, not_run, percentile, time_each
from bench.infra import TENANT, human_bytes, settings, store_size, url_text
from bench.seed import HEAVY_USER
from bench.stores import Store, Stores
from ledger.persistence.schema import events_table


def _cli(args: list[str], env: dict[str, str]) -> float:
    """Wall time of one `ledger-replay` run (raises when it fails)."""
    binary = os.path.join(os.path.dirname(sys.executable), "ledger-replay")
    began = time.perf_counter()
    subprocess.run([binary, *args], env=env, check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - began


def _replay_rows(kind: str, store: Store, env: dict[str, str]) -> list[Row]:
    events = store.seeded.events
    scanned, scan_s = raw.ordered_scan(store.url, events_table(store.url))
    base = round(scanned / scan_s, 1)
    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "export.jsonl")
        fixed = _cli(["export", "--after", str(store.seeded.position), "-o", out], env)
        wall = _cli(["export", "-o", out], env)
        exported = Path(out).stat().st_size
    net = max(wall - fixed, 1e-6)
    rows = [
        Row(
            id="R1",
            case=f"{kind}, full replay (export), {events:,} events",
            metric="events/s",
            ledger=round(events / net, 1),
            baseline=base,
            baseline_name="raw ordered scan of the events table (rows/s)",
            store=human_bytes(store_size(store.url)),
            notes=f"`ledger-replay export -o FILE`: {wall:.1f} s wall, {fixed:.1f} s of it"
            f" start-up (subtracted); {exported / 1e6:.0f} MB of JSON lines;"
            f" {events / wall:,.0f} events/s including start-up",
            extra={"wall_s": round(wall, 2), "startup_s": round(fixed, 2)},
        )
    ]
    if store.views_filled:
        wall = _cli(["verify", "--json"], env)
        net = max(wall - fixed, 1e-6)
        rows.append(
            Row(
                id="R1",
                case=f"{kind}, verify (2 views), {events:,} events",
                metric="events/s",
                ledger=round(events / net, 1),
                baseline=base,
                baseline_name="raw ordered scan of the events table (rows/s)",
                notes=f"`ledger-replay verify`: both views rebuilt into scratch tables from the"
                f" log and diffed with the live ones; {wall:.1f} s wall",
                extra={"wall_s": round(wall, 2)},
            )
        )
    return rows


def _history_row(kind: str, store: Store, sizes: Sizes, env: dict[str, str]) -> Row:
    from replay_tools.history import sessions_open_at
    from replay_tools.log import open_log, user_events

    seeded = store.seeded
    assert seeded.first_at is not None
    assert seeded.last_at is not None
    span = seeded.last_at - seeded.first_at
    rng = random.Random(11)
    moments = [seeded.first_at + span * rng.random() for _ in range(sizes.query_repeats)]
    conf = settings(store.url)
    found: list[int] = []
    with open_log(conf) as log:
        events = user_events(log, TENANT, HEAVY_USER)

        def history(n: int) -> None:
            found.append(len(sessions_open_at(user_events(log, TENANT, HEAVY_USER), moments[n])))

        repeats = min(len(moments), 50 if sizes.mode == "quick" else 200)
        latencies = time_each(history, repeats)
    ids = sorted({e.aggregate_id for e in events})
    base = _raw_fetch(store, ids, repeats)
    at = moments[0].isoformat()
    cli = _cli(["history", HEAVY_USER, "--at", at, "--tenant", TENANT, "--json"], env)
    return Row(
        id="R1", case=f"{kind}, history --at, user with {len(events):,} events",
        metric="latency ms p50", ledger=ms(percentile(latencies, 50)),
        baseline=ms(percentile(base, 50)),
        baseline_name="raw SELECT of the same rows by aggregate id (latency ms p50)",
        higher_is_better=False, p50_ms=ms(percentile(latencies, 50)),
        p99_ms=ms(percentile(latencies, 99)), baseline_p50_ms=ms(percentile(base, 50)),
        baseline_p99_ms=ms(percentile(base, 99)),
        notes=f"in-process, {repeats} moments; {len(ids)} aggregates; up to {max(found)} open;"
        f" the CLI (`ledger-replay history --json`) took {cli:.2f} s wall with start-up",
        extra={"cli_wall_s": round(cli, 2), "user_events": len(events)},
    )  # fmt: skip


def _raw_fetch(store: Store, ids: list[Any], repeats: int) -> list[float]:
    table = events_table(store.url)
    if store.url.is_postgres:
        with raw.pg_connect(store.url) as conn:
            statement = f"SELECT * FROM {table} WHERE originator_id = ANY(%s)"
            return time_each(lambda _: conn.execute(statement, (ids,)).fetchall(), repeats)
    lite = raw.sqlite_connect(store.url)
    marks = ", ".join("?" * len(ids))
    statement = f"SELECT * FROM {table} WHERE originator_id IN ({marks})"
    hexes = [i.hex for i in ids]
    try:
        return time_each(lambda _: lite.execute(statement, hexes).fetchall(), repeats)
    finally:
        lite.close()


def r1(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    """R1 rows: full replay, verify (if the views are filled), history --at."""
    try:
        import replay_tools.cli
        import replay_tools.history  # noqa: F401
    except ImportError as e:
        return [not_run("R1", kind, "events/s", f"replay tools not available yet: {e}")]
    store = stores.log(kind, sizes.r1_events)
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(store.url)}
    return [*_replay_rows(kind, store, env), _history_row(kind, store, sizes, env)]
