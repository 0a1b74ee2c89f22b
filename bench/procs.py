"""W2 across processes: the same start-session load from two ledger processes at once.

One process's commands are bound by its own CPU (the GIL: about 1 ms of Python per command),
so the second row of each W2 concurrency splits the client threads over two processes on the
same database, as `ledger serve --workers 2` or two hosts would. Each process bootstraps, then
waits for a common wall-clock moment so that the measured windows coincide; the figures are
summed (rates) and pooled (latencies).
Run by bench/writes.py; alone: `python -m bench.procs URL CLIENTS SECONDS WARMUP START_AT OUT`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.core import Sizes, Throughput, run_clients
from bench.infra import settings, url_text
from bench.writes import start_op
from ledger.bootstrap import bootstrap
from ledger.persistence.url import DatabaseURL

PROCESSES = 2
START_DELAY_S = 8.0
"""Time given to every process to import and bootstrap before the common start."""


def main(argv: list[str]) -> None:
    """One process's share: URL CLIENTS SECONDS WARMUP START_AT OUT (figures to OUT)."""
    url, clients, seconds, warmup, start_at, out = argv
    system = bootstrap(settings(DatabaseURL.parse(url), group_commit=True), run_projections=False)
    try:
        time.sleep(max(0.0, float(start_at) - time.time()))
        op = start_op(system)
        result = run_clients(op, clients=int(clients), seconds=float(seconds), warmup=float(warmup))
    finally:
        system.close()
    Path(out).write_text(json.dumps({"ops": result.ops, "seconds": result.seconds,
                                     "latencies": result.latencies, "errors": result.errors,
                                     "first_error": result.first_error}))  # fmt: skip


def starts_in_processes(url: DatabaseURL, *, clients: int, sizes: Sizes) -> Throughput:
    """`clients` threads split over `PROCESSES` ledger processes; the pooled throughput."""
    folder = Path(tempfile.mkdtemp(prefix="ledger_bench_procs_"))
    start_at = time.time() + START_DELAY_S
    share = max(1, clients // PROCESSES)
    outs = [folder / f"{n}.json" for n in range(PROCESSES)]
    args = [url_text(url), str(share), str(sizes.seconds), str(sizes.warmup), str(start_at)]
    procs = [subprocess.Popen([sys.executable, "-m", "bench.procs", *args, str(o)]) for o in outs]
    for proc in procs:
        proc.wait(timeout=START_DELAY_S + sizes.warmup + sizes.seconds + 300)
    parts = [json.loads(out.read_text()) for out in outs if out.exists()]
    shutil.rmtree(folder, ignore_errors=True)
    if len(parts) < PROCESSES:
        return Throughput(0, sizes.seconds, [], 1, "a process did not report")
    errors = sum(p["errors"] for p in parts)
    first = next((p["first_error"] for p in parts if p["first_error"]), "")
    latencies = [x for p in parts for x in p["latencies"]]
    return Throughput(sum(p["ops"] for p in parts), sizes.seconds, latencies, errors, first)


if __name__ == "__main__":
    main(sys.argv[1:])
