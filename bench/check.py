"""R2: `ledger-replay check` over a seeded log (the store R1 uses), against a raw ordered scan.

The command runs as its own process, as an auditor runs it: events/s over its wall time
(start-up included), and its peak resident memory (VmHWM, read from /proc while it runs), so a
log ten times larger shows whether memory stays flat. The baseline is the
raw ordered scan of the same events table in the same run (rows/s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import raw
from bench.core import Row, Sizes
from bench.infra import human_bytes, store_size, url_text
from bench.stores import Stores
from ledger.persistence.schema import events_table


def _hwm(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM of its own address space), bytes."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _check(env: dict[str, str]) -> tuple[float, int, dict[str, object]]:
    """Wall seconds, peak RSS in bytes, and the JSON report of one `ledger-replay check`.

    The peak is read from /proc while it runs (`ru_maxrss` would count the benchmark's own
    memory, which a forked child inherits until exec).
    """
    binary = os.path.join(os.path.dirname(sys.executable), "ledger-replay")
    peak = 0
    with tempfile.TemporaryFile() as out:
        began = time.perf_counter()
        child = subprocess.Popen([binary, "check", "--json"], env=env, stdout=out)
        while child.poll() is None:
            peak = max(peak, _hwm(child.pid))
            time.sleep(0.05)
        wall = time.perf_counter() - began
        out.seek(0)
        report: dict[str, object] = json.loads(out.read())
    if child.returncode not in (0, 1):
        raise RuntimeError(f"ledger-replay check exited {child.returncode}")
    return wall, peak, report


def r2(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    """The R2 row: check's events/s and peak memory against the raw ordered scan."""
    store = stores.log(kind, sizes.r1_events)
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(store.url)}
    scanned, scan_s = raw.ordered_scan(store.url, events_table(store.url))
    wall, peak, report = _check(env)
    events = int(str(report["events"]))
    violations = report["violations"]
    assert isinstance(violations, list)
    return [
        Row(
            id="R2",
            case=f"{kind}, ledger-replay check, {events:,} events",
            metric="events/s",
            ledger=round(events / wall, 1),
            baseline=round(scanned / scan_s, 1),
            baseline_name="raw ordered scan of the events table (rows/s)",
            store=human_bytes(store_size(store.url)),
            notes=f"`ledger-replay check --json`: {wall:.1f} s wall with start-up, peak RSS"
            f" {human_bytes(peak)}, {report['aggregates']:,} aggregates,"
            f" {len(violations)} violations (a seeded log: 0 expected)",
            extra={
                "wall_s": round(wall, 2),
                "peak_rss_bytes": peak,
                "violations": len(violations),
                "events": events,
            },
        )
    ]
