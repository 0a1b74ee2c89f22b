"""Export memory: `ledger-replay export` streams the log in constant memory (peak RSS).

    .venv/bin/python -m bench.export_memory [--events 1000000] [--kind sqlite|postgresql]
                                            [--format jsonl|csv]

Seeds a fresh database (bench.infra, removed afterwards) with `bench.seed` (real aggregates,
saved in bulk), then runs the real console script `ledger-replay export -o FILE` as a child
process three times: the whole log, its last tenth, and nothing (`--after HEAD`: the cost of
the interpreter and imports). Peak RSS is the kernel's figure for the child (`wait4`,
`ru_maxrss`). Constant memory shows as the same peak for a tenth of the log and for all of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.infra import database, settings, url_text
from bench.seed import Seeded, seed
from ledger.bootstrap import bootstrap
from ledger.persistence.url import DatabaseURL

# Linux keeps a process's peak RSS across exec, so a child forked from this (large) process
# would report at least our own size: a small launcher forks the export and reports its peak.
LAUNCHER = (
    "import os, subprocess, sys; child = subprocess.Popen(sys.argv[1:]);"
    " _, status, usage = os.wait4(child.pid, 0); print(usage.ru_maxrss); sys.exit(status >> 8)"
)


def export_peak(url: DatabaseURL, args: list[str], out: Path) -> tuple[float, float, int]:
    """Run `ledger-replay export ARGS -o OUT`; (seconds, peak RSS in MB, output bytes)."""
    binary = Path(sys.executable).with_name("ledger-replay")
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(url)}
    command = [sys.executable, "-c", LAUNCHER, str(binary), "export", *args, "-o", str(out)]
    began = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"export failed: {done.stderr}")
    return seconds, int(done.stdout.split()[-1]) / 1024, out.stat().st_size


def fill(url: DatabaseURL, events: int) -> Seeded:
    """Seed `events` events into the empty database at `url`."""
    system = bootstrap(settings(url), run_projections=False)
    try:
        return seed(
            system.ledger,
            events=events,
            progress=lambda s: print(f"\r  seeded {s.events:,} events", end="", flush=True),
        )
    finally:
        print()
        system.close()


def main() -> None:
    """Seed, export three ways, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--kind", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    options = parser.parse_args()
    with database(options.kind, "export_memory") as url, tempfile.TemporaryDirectory() as tmp:
        seeded = fill(url, options.events)
        head = seeded.position
        print(f"{options.kind}: {seeded.events:,} events in {seeded.seconds:.0f} s; head {head}")
        runs = [
            ("nothing (start-up only)", ["--after", str(head)]),
            ("last tenth of the log", ["--after", str(head - head // 10)]),
            ("the whole log", []),
        ]
        print(f"{'export of':<26}{'seconds':>9}{'peak RSS MB':>13}{'output MB':>11}")
        for label, args in runs:
            out = Path(tmp) / f"export.{options.format}"
            seconds, peak, size = export_peak(url, ["--format", options.format, *args], out)
            print(f"{label:<26}{seconds:>9.1f}{peak:>13.1f}{size / 1e6:>11.1f}")


if __name__ == "__main__":
    main()
