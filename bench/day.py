"""L1: a realistic day of an identity provider, offered through the HTTP API to a busy store.

PostgreSQL is seeded with 100,000 open sessions of 50,000 users (bench/seed.py: the real
aggregates saved in bulk, the views filled from the same events), then `bench.h1_server` (the
ledger's own app, one uvicorn worker, projections in the same process as `ledger serve` runs
them; then, on a store seeded afresh, two workers without projections beside `ledger project`)
is offered for 60 s (quick) or 10 min (full), open loop, by `bench.day_load` processes:
starts 100/s, activity 1,700/s (batched, `POST /v1/events`), SSO joins 50/s, logouts 90/s,
admin terminations 5/s, password resets 1/s and 200 reads/s of a user's sessions.
Measured per kind: achieved ÷ offered, latency p50/p99 from when each request was due; view
lag p99 (sampled every 100 ms from the log's head and the views' tracking positions); CPU of
the ledger's processes and of the PostgreSQL backends serving its database (from /proc).
Goal: the profile held (every kind achieved ≥ 99% of offered), lag p99 ≤ 1 s, read p99 ≤ 50 ms.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import psycopg

from bench.core import Row, Sizes, percentile
from bench.http import _wait_ready, free_port
from bench.infra import JWT_SECRET, TENANT, UNSAFE_ENV, database, settings, settle, url_text
from bench.seed import seed
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.persistence.url import DatabaseURL

SESSIONS, USERS = 100_000, 50_000
RATES = {"start": 100, "activity": 1700, "join": 50, "logout": 90, "admin_terminate": 5,
         "password_reset": 1, "read": 200}  # fmt: skip
COMMANDS = [k for k in RATES if k != "read"]
GENERATORS = int(os.environ.get("BENCH_L1_GENERATORS", "1"))  # client processes
TICK = os.sysconf("SC_CLK_TCK")


def token() -> str:
    """One token for the IdP and the admin: ingest, read, terminate (HS256)."""
    now = int(time.time())
    claims = {"sub": "idp-1", "scope": "sessions:ingest sessions:read sessions:terminate",
              "tenant": TENANT, "iat": now, "exp": now + 7200}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def backends(url: DatabaseURL) -> list[int]:
    """Pids of the PostgreSQL backends connected to this database."""
    with psycopg.connect(**url.conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


class LagSampler(threading.Thread):
    """Every 100 ms: the log's head and the slowest view's position; lag in seconds after."""

    def __init__(self, system: LedgerSystem) -> None:
        super().__init__(daemon=True)
        self.system, self.stop = system, threading.Event()
        self.samples: list[tuple[float, int, int]] = []

    def run(self) -> None:
        """Sample until stopped."""
        while not self.stop.wait(0.1):
            head = self.system.ledger.recorder.max_notification_id() or 0
            lag = max(self.system.lag().values(), default=0)
            self.samples.append((time.perf_counter(), head, head - lag))

    def lags(self, start: float, end: float) -> list[float]:
        """Seconds the oldest unprocessed event had waited, at each sample in the window."""
        out = []
        for t, head, position in self.samples:
            if start <= t <= end:
                first = next((s for s, h, _ in self.samples if h > position), t)
                out.append(t - first if position < head else 0.0)
        return out


def profile(pid: int, seconds: float) -> None:
    """With BENCH_L1_PROFILE=FILE, py-spy samples the ledger's process through the window."""
    target = os.environ.get("BENCH_L1_PROFILE")
    if target:
        spy = ["py-spy", "record", "-p", str(pid), "-d", str(int(seconds)), "-o", target]
        if os.environ.get("BENCH_L1_PROFILE_GIL"):
            spy.append("--gil")  # only the thread holding the GIL: where the CPU goes
        subprocess.Popen([*spy, "-f", "raw", "-r", "50"], stdout=subprocess.DEVNULL)


def _seed(url: DatabaseURL) -> dict[str, Any]:
    system = bootstrap(settings(url, group_commit=False), run_projections=False)
    try:
        began = time.perf_counter()
        views = [system.active, system.history]
        done = seed(system.ledger, sessions=SESSIONS, per_user=SESSIONS // USERS,
                    ended_share=0.0, views=views, chunk=3000)  # fmt: skip
        return {"events": done.events, "users": done.users, "seconds": time.perf_counter() - began}
    finally:
        system.close()


def _generators(
    port: int, seconds: float, warmup: float, folder: str
) -> list[tuple[subprocess.Popen[str], str]]:
    spec = {"host": "127.0.0.1", "port": port, "token": token(), "rates": RATES,
            "sessions": SESSIONS, "users": USERS, "procs": GENERATORS, "connections": 256,
            "seconds": seconds, "warmup": warmup, "drain_s": 10.0,
            "start_at": time.time() + 1}  # fmt: skip
    outs = [f"{folder}/generator-{n}.json" for n in range(GENERATORS)]
    return [
        (
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.day_load",
                    json.dumps({**spec, "index": n, "out": out}),
                ],
                text=True,
            ),
            out,
        )
        for n, out in enumerate(outs)
    ]


def _merge(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for out in outputs:
        for kind, t in out["kinds"].items():
            into = kinds.setdefault(kind, {"offered": 0, "ok": 0, "failed": 0, "latencies": [],
                                           "late": [], "statuses": {}})  # fmt: skip
            for key in ("offered", "ok", "failed"):
                into[key] += t[key]
            into["latencies"] += t["latencies"]
            into["late"] += t["late"]
            for code, n in t["statuses"].items():
                into["statuses"][code] = into["statuses"].get(code, 0) + n
    return kinds


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process and of its living descendants (uvicorn's workers)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += cpu_seconds(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        todo += [int(c) for c in children]
    return total


def _start(port: int, env: dict[str, str], workers: int) -> list[subprocess.Popen[bytes]]:
    """One process serving with its projections (`ledger serve`'s default), or `workers`
    uvicorn workers without projections plus `ledger project` running them."""
    if workers == 1:
        return [subprocess.Popen([sys.executable, "-m", "bench.h1_server", str(port)],
                                 env=env, stdout=subprocess.DEVNULL)]  # fmt: skip
    project = subprocess.Popen([sys.executable, "-m", "ledger.cli", "project"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    serve_env = env | {"LEDGER_RUN_PROJECTIONS": "false"}
    server = subprocess.Popen([sys.executable, "-m", "bench.h1_server", str(port), str(workers)],
                              env=serve_env, stdout=subprocess.DEVNULL)  # fmt: skip
    return [server, project]


def _run(url: DatabaseURL, sizes: Sizes, seconds: float, workers: int = 1) -> dict[str, Any]:
    """Serve, offer the day, sample lag and CPU; the raw figures."""
    settle(url)
    port = free_port()
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(url), "LEDGER_JWT_SECRET": JWT_SECRET}
    started = _start(port, env | UNSAFE_ENV, workers)
    server = started[0]
    watcher = bootstrap(settings(url), run_projections=False)
    sampler = LagSampler(watcher)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        warmup = max(2.0, sizes.warmup * 3)
        folder = tempfile.mkdtemp(prefix="ledger_bench_l1_")
        procs = _generators(port, seconds, warmup, folder)
        sampler.start()
        time.sleep(1 + warmup)
        began = time.perf_counter()
        pids = backends(url)
        cpu0 = sum(tree_cpu_seconds(p.pid) for p in started), {p: cpu_seconds(p) for p in pids}
        if workers == 1:
            profile(server.pid, seconds)
        time.sleep(seconds)
        wall = time.perf_counter() - began
        cpu_server = sum(tree_cpu_seconds(p.pid) for p in started) - cpu0[0]
        cpu_pg = sum(cpu_seconds(p) - c for p, c in cpu0[1].items())
        for proc, _ in procs:
            proc.wait(timeout=seconds + 120)
        outputs = [json.loads(Path(out).read_text()) for _, out in procs]
        shutil.rmtree(folder, ignore_errors=True)
        sampler.stop.set()
        sampler.join()
        return {"kinds": _merge(outputs), "lags": sampler.lags(began, began + wall),
                "cpu_ledger": cpu_server / wall, "cpu_postgres": cpu_pg / wall,
                "backends": len(pids), "generator_cpu": sum(o["cpu_s"] for o in outputs),
                "outstanding": sum(o["outstanding"] for o in outputs)}  # fmt: skip
    finally:
        sampler.stop.set()
        for ours in started:
            ours.terminate()
        for ours in started:
            try:
                ours.wait(timeout=60)
            except subprocess.TimeoutExpired:
                ours.kill()
                ours.wait()
        watcher.close()


def l1(kind: str, sizes: Sizes) -> list[Row]:
    """L1: the day's profile, one row per kind and one summary row, per deployment.

    First as `ledger serve` runs by default (one process: HTTP and projections); then, on a
    store seeded afresh, as two uvicorn workers without projections beside `ledger project`
    (each process on its own core's worth of GIL).
    """
    seconds = float(os.environ.get("BENCH_L1_SECONDS", "60" if sizes.mode == "quick" else "600"))
    rows = []
    for workers in (1, 2):
        with database(kind, "l1") as url:
            seeded = _seed(url)
            run = _run(url, sizes, seconds, workers)
        rows += _rows(kind, seconds, workers, seeded, run)
    return rows


def _rows(
    kind: str, seconds: float, workers: int, seeded: dict[str, Any], run: dict[str, Any]
) -> list[Row]:
    """The rows of one deployment's day."""
    if workers > 1:
        kind = f"{kind}, {workers} workers + ledger project"
    rows, held = [], True
    for name in RATES:
        t = run["kinds"].get(name, {"offered": 0, "ok": 0, "failed": 0, "latencies": [],
                                     "late": [], "statuses": {}})  # fmt: skip
        offered, achieved = t["offered"] / seconds, t["ok"] / seconds
        lat = t["latencies"]
        held &= achieved >= 0.99 * offered
        late = percentile(t["late"], 99)
        notes = f"{t['failed']} failed {t['statuses']}" if t["failed"] or t["statuses"] else ""
        if late:
            notes += f"; issued late p99 {late * 1000:.0f} ms"
        rows.append(Row(
            id="L1", case=f"{kind}, {name}", metric="achieved/s", ledger=round(achieved, 1),
            baseline=round(offered, 1), baseline_name="offered (events/s)",
            p50_ms=_ms(percentile(lat, 50)), p99_ms=_ms(percentile(lat, 99)), notes=notes,
        ))  # fmt: skip
    lag99 = percentile(run["lags"], 99) or 0.0
    read99 = rows[-1].p99_ms or 1e9
    met = held and lag99 <= 1.0 and read99 <= 50
    summary = Row(
        id="L1", case=f"{kind}, whole day ({seconds:.0f} s)", metric="view lag ms p99",
        ledger=round(lag99 * 1000, 1), higher_is_better=False,
        goal="profile held; lag p99 <= 1 s; read p99 <= 50 ms", goal_met=met,
        notes=(f"profile {'held' if held else 'NOT held'}; read p99 {read99:.0f} ms; CPU: ledger"
               f" {run['cpu_ledger']:.2f} cores, PostgreSQL {run['cpu_postgres']:.2f} cores"
               f" ({run['backends']} backends of its database); generators {GENERATORS}"
               f" process(es), {run['generator_cpu']:.1f} s CPU; activity batched"
               f" ({RATES['activity']}/s as POST /v1/events every 100 ms), the rest one request"
               f" each; seeded {SESSIONS:,} open sessions of {seeded['users']:,} users"
               f" ({seeded['events']:,} events) in {seeded['seconds']:.0f} s"),
    )  # fmt: skip
    summary.extra = {k: v for k, v in run.items() if k != "kinds"} | {"seeded": seeded}
    summary.extra["lags"] = None
    return [*rows, summary]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
