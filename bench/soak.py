"""Soak: `python -m bench.soak [--minutes 20] [--backend postgresql|sqlite]` (= `make soak`).

A real `ledger serve` process under mixed load through its HTTP API (starts, activity,
terminations, reads of a user's sessions) for N minutes at `--load` (70%) of the capacity
measured at the start of the same run (closed loop, `--clients` threads, `--calibrate-s`).
Each minute: the server's resident memory and open file descriptors (from /proc), the
database connections (PostgreSQL's `pg_stat_activity` for its database), the views' lag
(`/readyz`, sampled every few seconds: notifications behind the log), command latency
p50/p99 and errors. Writes bench/results/soak-<date>.json, a PNG of memory and lag over
time next to it, and the "Soak" section of bench/RESULTS.md. A benchmark: nothing asserts. The
report (table, plot, the RESULTS.md section) is bench/soak_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg

from bench.http import _wait_ready, free_port
from bench.infra import JWT_SECRET, TENANT, UNSAFE_ENV, database, machine, url_text
from bench.report import MARKDOWN, RESULTS
from bench.soak_report import markdown, plot, write_section
from ledger.persistence.url import DatabaseURL

MIX = (("start", 40), ("activity", 30), ("terminate", 10), ("read", 20))


def _token(scope: str, sub: str) -> str:
    now = int(time.time())
    claims = {"sub": sub, "scope": scope, "tenant": TENANT, "iat": now, "exp": now + 86_400}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@dataclass
class Traffic:
    """The mixed operations and what they measured (latency per completed operation)."""

    base: str
    open_sessions: deque[str] = field(default_factory=lambda: deque(maxlen=5000))
    done: list[tuple[float, str, float, int]] = field(default_factory=list)  # t, op, ms, status
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def one(self, client: httpx.Client, rng: random.Random) -> None:
        """Run one operation of the mix, timed."""
        op = rng.choices([m[0] for m in MIX], weights=[m[1] for m in MIX])[0]
        if op != "start" and not self.open_sessions:
            op = "start"
        started = time.monotonic()
        status = self._send(client, op, rng)
        self.done.append((time.monotonic(), op, (time.monotonic() - started) * 1000, status))

    def _send(self, client: httpx.Client, op: str, rng: random.Random) -> int:
        try:
            if op == "start":
                with self._lock:
                    self._counter += 1
                    sid = f"soak-{self._counter}"
                user = f"user-{rng.randrange(2000)}"
                body = {"session_id": sid, "user_id": user, "ip": "203.0.113.9"}
                status = client.post("/v1/sessions", json=body).status_code
                if status == 201:
                    self.open_sessions.append(sid)
                return status
            if op == "read":
                path = f"/v1/users/user-{rng.randrange(2000)}/sessions"
                return client.get(path, headers={"Authorization": READ}).status_code
            sid = self.open_sessions[rng.randrange(len(self.open_sessions))]
            if op == "activity":
                return client.post(f"/v1/sessions/{sid}/activity", json={}).status_code
            with self._lock, _suppress_value_error():
                self.open_sessions.remove(sid)
            body = {"reason": "logout"}
            return client.post(f"/v1/sessions/{sid}/terminate", json=body).status_code
        except (httpx.HTTPError, IndexError):
            return 0


class _suppress_value_error:  # noqa: N801 - a tiny context manager
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, *_: object) -> bool:
        return kind is ValueError


READ = f"Bearer {_token('sessions:read', 'soak-admin')}"
INGEST = f"Bearer {_token('sessions:ingest', 'soak-idp')}"


def drive(traffic: Traffic, *, clients: int, seconds: float, rate: float | None) -> None:
    """`clients` threads for `seconds`: as fast as they can (rate None) or paced to `rate`/s."""
    stop = time.monotonic() + seconds

    def client_loop(n: int) -> None:
        rng = random.Random(n)
        interval = clients / rate if rate else 0.0
        next_at = time.monotonic() + rng.random() * interval
        with httpx.Client(
            base_url=traffic.base, headers={"Authorization": INGEST}, timeout=30
        ) as c:
            while time.monotonic() < stop:
                if interval:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                traffic.one(c, rng)

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def process_figures(pid: int) -> tuple[float, int]:
    """Resident memory (MB) and open file descriptors of process `pid`."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd"))


class Connections:
    """Counts the connections open to the ledger's PostgreSQL database (None on SQLite).

    One connection of its own, opened once: the shared server may be at its connection limit.
    """

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self._conn: psycopg.Connection[Any] | None = None

    def count(self) -> int | None:
        """Connections of the ledger (not this one), or None when unknown."""
        if not self.url.is_postgres:
            return None
        try:
            if self._conn is None or self._conn.closed:
                info: Any = self.url.conninfo()
                self._conn = psycopg.connect(**info, connect_timeout=5, autocommit=True)
            row = self._conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.url.dbname,),
            ).fetchone()
        except psycopg.Error:
            return None
        return int(row[0]) if row else None


def view_lag(base: str) -> int | None:
    """The largest lag `/readyz` reports (notifications behind the log)."""
    try:
        body = httpx.get(f"{base}/readyz", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return None
    lag = body.get("lag") or {}
    return max(lag.values()) if lag else None


def sample(traffic: Traffic, *, pid: int, url: DatabaseURL, stop: threading.Event,
           minute_s: float) -> list[dict[str, Any]]:  # fmt: skip
    """Every `minute_s`: memory, fds, connections, lag, latency of the minute's commands."""
    minutes: list[dict[str, Any]] = []
    start = time.monotonic()
    lags: list[int] = []
    seen = 0
    connections = Connections(url)
    while not stop.is_set():
        end = start + minute_s * (len(minutes) + 1)
        while time.monotonic() < end and not stop.wait(min(5.0, max(0.0, end - time.monotonic()))):
            lag = view_lag(traffic.base)
            if lag is not None:
                lags.append(lag)
        if stop.is_set() and time.monotonic() < end - minute_s / 2:
            break  # the run ended early in this minute: too little to stand for one
        batch, seen = traffic.done[seen:], len(traffic.done)
        rss, fds = process_figures(pid)
        commands = sorted(ms for _, op, ms, _ in batch if op != "read")
        minutes.append({
            "minute": len(minutes) + 1, "rss_mb": round(rss, 1), "fds": fds,
            "db_connections": connections.count(),
            "lag_max": max(lags, default=None), "lag_mean": round(statistics.fmean(lags), 1)
            if lags else None, "operations": len(batch),
            "errors": sum(1 for *_, s in batch if s == 0 or s >= 500),
            "command_p50_ms": _pct(commands, 50), "command_p99_ms": _pct(commands, 99),
        })  # fmt: skip
        lags = []
        print(json.dumps(minutes[-1]), flush=True)
    return minutes


def _pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 2)


def serve(url: DatabaseURL, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`ledger serve` on `url` (one worker, projections inside); its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= UNSAFE_ENV | {"LEDGER_DATABASE_URL": url_text(url), "LEDGER_JWT_SECRET": JWT_SECRET,
                         "LEDGER_READY_MAX_LAG": "1000000000"}  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    _wait_ready(base, proc)
    return proc, base


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate, soak, and return every figure."""
    started = datetime.now(UTC)
    with database(args.backend, "soak") as url:
        proc, base = serve(url, Path(f"/tmp/ledger-soak-{os.getpid()}.log"))
        try:
            traffic = Traffic(base)
            drive(traffic, clients=args.clients, seconds=args.calibrate_s, rate=None)
            ok = [d for d in traffic.done if 0 < d[3] < 500]
            capacity = len(ok) / args.calibrate_s
            rate = capacity * args.load
            print(f"capacity {capacity:.0f} operations/s; soaking at {rate:.0f}/s", flush=True)
            traffic.done.clear()
            stop = threading.Event()
            figures: list[dict[str, Any]] = []

            def sampling() -> None:
                figures.extend(
                    sample(traffic, pid=proc.pid, url=url, stop=stop, minute_s=args.minute_s)
                )

            sampler = threading.Thread(target=sampling)
            sampler.start()
            drive(traffic, clients=args.clients, seconds=args.minutes * 60, rate=rate)
            stop.set()
            sampler.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return {"started": started.isoformat(), "backend": args.backend, "minutes": args.minutes,
            "clients": args.clients, "calibrate_s": args.calibrate_s, "load": args.load,
            "capacity_ops_s": round(capacity, 1), "rate_ops_s": round(rate, 1),
            "mix": dict(MIX), "machine": machine(), "note": args.note, "per_minute": figures,
            "commit": _commit()}  # fmt: skip


def _commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    return done.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, soak, write the results."""
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--calibrate-s", type=float, default=30)
    parser.add_argument("--load", type=float, default=0.7)
    parser.add_argument("--minute-s", type=float, default=60, help=argparse.SUPPRESS)
    parser.add_argument("--note", default=os.environ.get("BENCH_NOTE", ""))
    result = run(parser.parse_args(argv))
    stamp = result["started"][:10]
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS / f"soak-{stamp}.json"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    png = RESULTS / f"soak-{stamp}.png"
    plot(result, png)
    write_section(markdown(result, png))
    print(f"wrote {json_path}, {png} and {MARKDOWN}")


if __name__ == "__main__":
    main()
