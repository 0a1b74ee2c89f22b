"""A small HTTP/1.1 load generator (used when `wrk` is not installed): keep-alive connections.

Run: `python -m bench.loadgen URL CONNECTIONS SECONDS [HEADER ...]`; prints one JSON line with
requests/s, p50/p99 latency (ms) and the count of non-2xx answers and errors. Only for
127.0.0.1; every connection stops at the deadline, so the traffic is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


async def _connection(
    host: str, port: int, request: bytes, deadline: float, out: dict[str, list[float]]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - began)
            if not head.startswith((b"HTTP/1.1 2", b"HTTP/1.0 2")):
                out["non2xx"].append(1)
    except (OSError, asyncio.IncompleteReadError):
        out["errors"].append(1)
    finally:
        writer.close()


async def load(url: str, connections: int, seconds: float, headers: list[str]) -> dict[str, float]:
    """Drive `url` from `connections` keep-alive connections for `seconds`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lines = [f"GET {parts.path or '/'} HTTP/1.1", f"Host: {host}:{port}", *headers, "", ""]
    request = "\r\n".join(lines).encode()
    out: dict[str, list[float]] = {"latencies": [], "non2xx": [], "errors": []}
    began = time.perf_counter()
    deadline = began + seconds
    await asyncio.gather(
        *(_connection(host, port, request, deadline, out) for _ in range(connections))
    )
    elapsed = time.perf_counter() - began
    ordered = sorted(out["latencies"]) or [0.0]
    return {
        "requests": len(out["latencies"]),
        "rps": len(out["latencies"]) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "non2xx": len(out["non2xx"]),
        "errors": len(out["errors"]),
    }


if __name__ == "__main__":
    url, connections, seconds, *extra = sys.argv[1:]
    print(json.dumps(asyncio.run(load(url, int(connections), float(seconds), extra))))
