"""L1's load generator: an open-loop offered load of a realistic IdP day, over raw HTTP/1.1.

Run by bench/day.py as `python -m bench.day_load SPEC_JSON` (one or more processes, each
offering its share of every rate on its own slice of the seeded sessions). Every request is
due at a fixed time (k / rate): it is sent then, whatever happened to earlier ones (open
loop), on a free keep-alive connection or a new one; its latency counts from when it was
due, so a server that falls behind shows it. Activity goes through the batch route
(`POST /v1/events`, one batch per 100 ms), as an IdP would report its per-minute activity
records; starts, SSO joins, logouts, admin terminations, password resets and reads are one
request each, as they happen. Writes per kind offered, answered-ok and failed
counts in the window, latencies, and the generator's own CPU (as JSON, to the file `out`).
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

FLUSH_S = 0.1  # activity is batched every 100 ms
AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0"


@dataclass
class Tally:
    """One kind's figures in the measured window."""

    offered: int = 0
    ok: int = 0
    failed: int = 0
    late: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)


class Pool:
    """Keep-alive connections to one server, opened on demand up to `cap`."""

    def __init__(self, host: str, port: int, cap: int) -> None:
        self.host, self.port, self.cap = host, port, cap
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0
        self.free = asyncio.Condition()

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request; (status, body)."""
        conn = await self._take()
        reader, writer = conn
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length) if length else b""
        except BaseException:
            writer.close()
            self.opened -= 1
            async with self.free:
                self.free.notify()
            raise
        self.idle.append(conn)
        async with self.free:
            self.free.notify()
        return int(head[9:12]), body

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while True:
            if self.idle:
                return self.idle.pop()
            if self.opened < self.cap:
                self.opened += 1
                try:
                    return await asyncio.open_connection(self.host, self.port)
                except BaseException:
                    self.opened -= 1
                    raise
            async with self.free:
                await self.free.wait()


def http(method: str, path: str, headers: bytes, body: bytes | None = None) -> bytes:
    """A request's bytes."""
    if body is None:
        return f"{method} {path} HTTP/1.1\r\n".encode() + headers + b"\r\n"
    length = f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n".encode()
    return f"{method} {path} HTTP/1.1\r\n".encode() + headers + length + b"\r\n" + body


class Day:
    """One process's share of the day: its sessions are those with index % procs == index."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.procs, self.me = spec["procs"], spec["index"]
        self.rng = random.Random(1000 + self.me)
        host = f"Host: {spec['host']}:{spec['port']}\r\nAuthorization: Bearer {spec['token']}\r\n"
        self.headers = host.encode()
        self.pool = Pool(spec["host"], spec["port"], spec["connections"])
        sessions, users = spec["sessions"], spec["users"]
        own = list(range(self.me, sessions, self.procs))
        self.to_log_out = iter(own)  # logouts from the oldest session up
        self.to_terminate = iter([i for i in own if i >= int(sessions * 0.8)])
        self.to_reset = iter(u for u in range(users - 1, -1, -1) if u % self.procs == self.me)
        self.active = own[:]
        self.rng.shuffle(self.active)
        self.ended: set[int] = set()
        self.cursor = 0
        self.tallies: dict[str, Tally] = {}
        self.window = (0.0, 0.0)
        self.tasks: set[asyncio.Task[None]] = set()

    def _next_active(self) -> int:
        while True:
            i = self.active[self.cursor % len(self.active)]
            self.cursor += 1
            if i not in self.ended:
                return i

    def make(self, kind: str, k: int, due: float) -> tuple[bytes, int]:  # noqa: PLR0911
        """The request of the k-th event of `kind` and how many items it carries."""
        spec = self.spec
        if kind == "start":
            user = self.rng.randrange(spec["users"])
            app = {"id": f"app-{user % 20}", "name": f"Application {user % 20}"}
            body: dict[str, object] = {"session_id": f"l1-{self.me}-{k}", "user_id": f"user-{user}",
                    "ip": "198.51.100.9", "user_agent": AGENT, "auth_methods": ["pwd"],
                    "application": app}  # fmt: skip
            return http("POST", "/v1/sessions", self.headers, orjson.dumps(body)), 1
        if kind == "activity":
            n = max(1, round(spec["rates"]["activity"] / self.procs * FLUSH_S))
            events = [{"type": "activity", "session_id": f"s-{self._next_active()}"}
                      for _ in range(n)]  # fmt: skip
            return http("POST", "/v1/events", self.headers, orjson.dumps({"events": events})), n
        if kind == "join":
            i, a = self._next_active(), self.rng.randrange(20)
            body = {"application": {"id": f"app-{a}", "name": f"Application {a}"}}
            path = f"/v1/sessions/s-{i}/activity"
            return http("POST", path, self.headers, orjson.dumps(body)), 1
        if kind == "logout":
            i = next(self.to_log_out)
            self.ended.add(i)
            logout = b'{"reason":"logout"}'
            return http("POST", f"/v1/sessions/s-{i}/terminate", self.headers, logout), 1
        if kind == "admin_terminate":
            i = next(self.to_terminate)
            self.ended.add(i)
            return http("DELETE", f"/v1/users/user-{i // 2}/sessions/s-{i}", self.headers), 1
        if kind == "password_reset":
            u = next(self.to_reset)
            self.ended |= {2 * u, 2 * u + 1}
            return http("POST", f"/v1/users/user-{u}/password-reset", self.headers, b"{}"), 1
        assert kind == "read"
        user = self.rng.randrange(spec["users"])
        return http("GET", f"/v1/users/user-{user}/sessions", self.headers), 1

    async def issue(self, kind: str, raw: bytes, items: int, due: float, counted: bool) -> None:
        """Send it; count its items (a batch's items by their own status)."""
        tally = self.tallies[kind]
        try:
            status, body = await self.pool.request(raw)
        except (OSError, asyncio.IncompleteReadError) as e:
            tally.statuses[type(e).__name__] = tally.statuses.get(type(e).__name__, 0) + 1
            return
        done = time.perf_counter()
        start, end = self.window
        if not start <= done <= end:
            return
        if kind == "activity" and status == 200:
            codes = [r["status"] for r in orjson.loads(body)["results"]]
        else:
            codes = [status] * items
        good = sum(1 for c in codes if c < 300)
        tally.ok += good
        tally.failed += len(codes) - good
        for c in codes:
            if c >= 300:
                tally.statuses[str(c)] = tally.statuses.get(str(c), 0) + 1
        if counted:
            tally.latencies.append(done - due)

    async def ticker(self, kind: str, rate: float, t0: float) -> None:
        """Issue `kind` at `rate` per second from t0 to the window's end (open loop)."""
        per_request = FLUSH_S if kind == "activity" else 1 / rate
        start, end = self.window
        tally = self.tallies.setdefault(kind, Tally())
        k = 0
        while True:
            due = t0 + k * per_request
            if due >= end:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                tally.late.append(-delay)
            try:
                raw, items = self.make(kind, k, due)
            except StopIteration:
                return  # nothing left to end (a longer run than the seed allows)
            counted = start <= due < end
            if counted:
                tally.offered += items
            task = asyncio.create_task(self.issue(kind, raw, items, due, counted))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            k += 1

    async def run(self) -> dict[str, Any]:
        """Offer the load; wait for what is outstanding (bounded); the figures."""
        spec = self.spec
        # every process starts at the same wall-clock moment
        t0 = time.perf_counter() + max(0.0, spec["start_at"] - time.time())
        self.window = (t0 + spec["warmup"], t0 + spec["warmup"] + spec["seconds"])
        rates = {k: r / self.procs for k, r in spec["rates"].items() if r}
        await asyncio.gather(*(self.ticker(k, r, t0) for k, r in rates.items()))
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=spec["drain_s"])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "kinds": {k: t.__dict__ for k, t in self.tallies.items()},
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "connections": self.pool.opened,
            "outstanding": len([t for t in self.tasks if not t.done()]),
        }


def main() -> None:
    """Run one generator process."""
    spec = json.loads(sys.argv[1])
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency of the server
        pass
    result = asyncio.run(Day(spec).run())
    with open(spec["out"], "w") as out:  # a file: the figures are larger than a pipe's buffer
        json.dump(result, out)


if __name__ == "__main__":
    main()
