"""H1: `GET /v1/users/{id}/sessions` over real HTTP, 64 connections, vs a bare endpoint.

The server (`bench.h1_server`: the ledger's app plus `/bench/bare`, one uvicorn worker) and
the load generator (`wrk` when installed, else `bench.loadgen`) are separate processes;
traffic goes to 127.0.0.1 only and each run is bounded in time. The bare endpoint returns
the very bytes the real one returned, so the ratio is what auth, the view query and the
JSON rendering cost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

from bench.core import Row, Sizes
from bench.infra import (
    JWT_SECRET,
    TENANT,
    UNSAFE_ENV,
    database,
    human_bytes,
    settings,
    settle,
    store_size,
    url_text,
)
from bench.seed import seed
from ledger.bootstrap import bootstrap
from ledger.persistence.url import DatabaseURL

CONNECTIONS = 64
WORKERS = (1, 2)
"""H1 with one uvicorn worker (the goal's case) and with two, so the scaling is on record."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def token() -> str:
    """A read token of the bench tenant (HS256, the server's secret)."""
    now = int(time.time())
    claims = {"sub": "admin-1", "scope": "sessions:read", "tenant": TENANT, "iat": now,
              "exp": now + 3600}  # fmt: skip
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    """Until every view and process of the server has caught up with the log (`/readyz` lag
    0): a server still catching up (a view the seeding did not fill) would share the cores
    with the measured requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            answer = httpx.get(f"{base}/readyz", timeout=2)
            if answer.status_code == 200 and not any(answer.json()["lag"].values()):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not catch up with the log in time")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(text: str, label: str) -> float | None:
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else None


def drive(url: str, headers: list[str], seconds: float) -> dict[str, Any]:
    """Load `url` from CONNECTIONS connections for `seconds` in another process."""
    wrk = shutil.which("wrk")
    if wrk is None:
        out = subprocess.run(
            [sys.executable, "-m", "bench.loadgen", url, str(CONNECTIONS), str(seconds), *headers],
            capture_output=True, text=True, check=True, timeout=seconds + 60,
        )  # fmt: skip
        return {**json.loads(out.stdout), "generator": "bench.loadgen (Python asyncio)"}
    args = [wrk, "-t2", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run(
        [*args, "--latency", url], capture_output=True, text=True, check=True,
        timeout=seconds + 60,
    )  # fmt: skip
    text = out.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)", text)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50_ms": _wrk_ms(text, "50"),
        "p99_ms": _wrk_ms(text, "99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1).strip() if errors else 0,
        "generator": "wrk -t2 -c64",
    }


def versus_bare(
    url: DatabaseURL, path: str, bearer: str, seconds: float, *, workers: int = 1
) -> tuple[dict[str, Any], dict[str, Any], httpx.Response]:
    """Serve the ledger on `url` (`bench.h1_server`, `workers` uvicorn workers); drive `path`
    and a bare endpoint answering the very same bytes, each after a warm-up. Returns (ledger,
    bare, the real answer)."""
    settle(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder = tempfile.mkdtemp(prefix="ledger_bench_bare_")
    bare_file = Path(folder) / "bare.json"  # what every worker's bare endpoint answers
    env = {**os.environ, "LEDGER_DATABASE_URL": url_text(url), "LEDGER_JWT_SECRET": JWT_SECRET,
           "BENCH_BARE_FILE": str(bare_file)}  # fmt: skip
    env |= UNSAFE_ENV
    proc = subprocess.Popen(  # its access log (stdout) is written, then discarded
        [sys.executable, "-m", "bench.h1_server", str(port), str(workers)], env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_ready(base, proc)
        auth = f"Authorization: Bearer {bearer}"
        real = f"{base}{path}"
        answer = httpx.get(real, headers={"Authorization": f"Bearer {bearer}"})
        answer.raise_for_status()
        bare_file.write_bytes(answer.content)
        warm = min(3.0, seconds / 4)
        drive(f"{base}/bench/bare", [], warm)
        bare = drive(f"{base}/bench/bare", [], seconds)
        drive(real, [auth], warm)
        ledger = drive(real, [auth], seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)
    return ledger, bare, answer


def versus_bare_row(
    row_id: str, kind: str, runs: tuple[dict[str, Any], dict[str, Any]], *, store: str, notes: str
) -> Row:
    """The row of a `versus_bare` run: requests/s and latencies of both, failures noted."""
    ledger, bare = runs
    row = Row(
        id=row_id, case=f"{kind}, {CONNECTIONS} connections", metric="requests/s",
        ledger=round(ledger["rps"], 1), baseline=round(bare["rps"], 1),
        baseline_name="bare endpoint in the same server returning the same bytes (requests/s)",
        p50_ms=ledger["p50_ms"], p99_ms=ledger["p99_ms"], baseline_p50_ms=bare["p50_ms"],
        baseline_p99_ms=bare["p99_ms"], store=store,
    )  # fmt: skip
    row.extra = {"ledger": ledger, "bare": bare}
    bad = [f"{n}: {r['non2xx']} non-2xx, errors {r['errors']}" for n, r in
           (("ledger", ledger), ("bare", bare)) if r["non2xx"] or r["errors"]]  # fmt: skip
    row.notes = "; ".join([notes, *bad])
    return row


def h1(kind: str, sizes: Sizes) -> list[Row]:
    """H1: real endpoint vs bare endpoint in the same server, 64 connections."""
    sessions = 10_000 if sizes.mode == "quick" else 100_000
    with database(kind, "h1") as url:
        system = bootstrap(settings(url, group_commit=False), run_projections=False)
        try:
            seed(system.ledger, sessions=sessions, views=[system.active, system.history])
            counts = system.active.count_by_user(TENANT, now=system.clock(), limit=200)
            user = max(counts, key=lambda c: c[1])[0]
        finally:
            system.close()
        path = f"/v1/users/{user}/sessions"
        runs = {n: versus_bare(url, path, token(), sizes.h1_seconds, workers=n) for n in WORKERS}
        size = human_bytes(store_size(url))
    rows = []
    for n, (ledger, bare, answer) in runs.items():
        shown = len(answer.json()["sessions"])
        notes = (
            f"{ledger['generator']}, {sizes.h1_seconds:.0f} s each; {sessions:,} sessions in the"
            f" store, {shown} in the answer ({len(answer.content)} bytes);"
            f" {n} uvicorn worker{'s' if n > 1 else ''}"
        )
        row = versus_bare_row("H1", kind, (ledger, bare), store=size, notes=notes)
        if n > 1:
            row.case += f", {n} workers"
        row.extra["sessions_in_answer"] = shown
        row.extra["workers"] = n
        rows.append(row)
    return rows
