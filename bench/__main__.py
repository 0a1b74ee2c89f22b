"""`python -m bench [--quick | --full] [--only W1,P1] [--backends postgresql,sqlite] [--note]`.

Runs the selected benchmarks (all by default), prints each row as it is measured, writes
bench/results/<date>.json and bench/RESULTS.md. A benchmark that fails becomes an `error`
row; the others still run. PostgreSQL comes from BENCH_POSTGRES_URL (default: the local
server as user postgres); databases named ledger_bench_* are created and dropped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import figures, report
from bench.core import Row, Sizes
from bench.infra import machine, postgres_available
from bench.stores import Stores

Runner = Callable[[str, Sizes, Stores], list[Row]]


def _w(name: str) -> Runner:
    def run(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
        from bench import writes

        return getattr(writes, name)(kind, sizes)  # type: ignore[no-any-return]

    return run


def _p1(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    from bench.projections import p1

    return p1(kind, sizes, stores)


def _p2(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.projections import p2

    return p2(kind, sizes)


def _h1(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.http import h1

    return h1(kind, sizes)


def _h2(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.status_check import h2

    return h2(kind, sizes)


def _r1(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    from bench.replay import r1

    return r1(kind, sizes, stores)


def _r2(kind: str, sizes: Sizes, stores: Stores) -> list[Row]:
    from bench.check import r2

    return r2(kind, sizes, stores)


def _s1(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.scale import s1

    return s1(kind, sizes)


def _l1(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.day import l1

    return l1(kind, sizes)


def _c1(kind: str, sizes: Sizes, _: Stores) -> list[Row]:
    from bench.cpu import c1

    return c1(kind, sizes)


BOTH = ("postgresql", "sqlite")
BENCHMARKS: dict[str, tuple[str, tuple[str, ...], Runner]] = {
    "W1": ("start-session commands/s, 1 client", BOTH, _w("w1")),
    "W2": ("start-session commands/s, 16 and 64 clients", BOTH, _w("w2")),
    "W3": ("password reset ending 100 sessions", BOTH, _w("w3")),
    "P1": ("projection catch-up", BOTH, _p1),
    "P2": ("projection lag at 1,000 commands/s", ("postgresql",), _p2),
    "H1": ("GET /v1/users/{id}/sessions over HTTP, 64 connections", ("postgresql",), _h1),
    "H2": ("GET /v1/sessions/{id}/status over HTTP, 64 connections", BOTH, _h2),
    "R1": ("ledger-replay: full replay and history --at", BOTH, _r1),
    "R2": ("ledger-replay check: the model's invariants over the log", BOTH, _r2),
    "S1": ("query latency as the store grows", BOTH, _s1),
    "C1": ("CPU per command", BOTH, _c1),
    "L1": ("a realistic IdP day through the HTTP API", ("postgresql",), _l1),
}


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (default)")
    size.add_argument("--full", action="store_true", help="1,000,000 events, 10^6 sessions")
    parser.add_argument("--only", default="", help="comma-separated rows, e.g. W1,P1")
    parser.add_argument("--backends", default=",".join(BOTH), help="postgresql,sqlite")
    parser.add_argument(
        "--note", default=os.environ.get("BENCH_NOTE", ""), help="a line above the table"
    )
    parser.add_argument("--no-save", action="store_true", help="print only; write no files")
    return parser.parse_args(argv)


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return out.stdout.strip()


def _print(row: Row) -> None:
    ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
    p = f" p50 {row.p50_ms:.2f} ms p99 {row.p99_ms:.2f} ms" if row.p50_ms and row.p99_ms else ""
    goal = f" [{row.goal}: {'met' if row.goal_met else 'NOT met'}]" if row.goal else ""
    print(
        f"{row.id} {row.case}: {row.metric} ledger {row.ledger} vs {row.baseline} -> {ratio}"
        f"{p}{goal} {row.status} {row.notes}",
        flush=True,
    )


def run(args: argparse.Namespace) -> list[Row]:
    """Run the selected benchmarks; every failure becomes an `error` row."""
    sizes = Sizes.full() if args.full else Sizes.quick()
    only = [x.strip().upper() for x in args.only.split(",") if x.strip()] or list(BENCHMARKS)
    unknown = set(only) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if "postgresql" in backends and not postgres_available():
        print("PostgreSQL is not reachable: its rows are skipped", file=sys.stderr)
        backends.remove("postgresql")
    rows: list[Row] = []
    stores = Stores()
    try:
        for id_ in only:
            title, kinds, runner = BENCHMARKS[id_]
            for kind in [k for k in kinds if k in backends]:
                print(f"== {id_} {title} ({kind})", file=sys.stderr, flush=True)
                began = time.monotonic()
                try:
                    produced = runner(kind, sizes, stores)
                except Exception as e:
                    traceback.print_exc()
                    produced = [Row(id=id_, case=kind, metric="", status="error", notes=str(e))]
                for row in produced:
                    report.judge(row)
                    row.extra.setdefault("seconds", round(time.monotonic() - began, 1))
                    _print(row)
                rows += produced
    finally:
        stores.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run, then write the results."""
    args = parse(sys.argv[1:] if argv is None else argv)
    started = datetime.now(UTC)
    info: dict[str, Any] = {"machine": machine()}
    rows = run(args)
    finished = datetime.now(UTC)
    info.update(
        date=started.date().isoformat(),
        started=started.isoformat(timespec="seconds"),
        duration_s=(finished - started).total_seconds(),
        mode="full" if args.full else "quick",
        command="python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        commit=_commit(),
        note=args.note,
    )
    if not args.no_save:
        path = report.save(info, rows, merge=bool(args.only))
        print(f"wrote {path} and {report.write_markdown(path)}", file=sys.stderr)
        if figures.update():
            print(f"rewrote the figures in {figures.README}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
