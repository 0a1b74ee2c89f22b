"""The shapes every benchmark shares: run sizes, result rows, timing and client threads.

A `Row` holds the ledger's figure and the baseline measured in the same run, their ratio
(ledger / baseline) and latency percentiles. Benchmarks are not tests: nothing here asserts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sizes:
    """How big and how long each benchmark runs (`--quick` or `--full`)."""

    mode: str
    seconds: float  # measured window of a throughput run
    warmup: float
    p1_events: int
    r1_events: int
    s1_sizes: tuple[int, ...]
    w3_users: int
    p2_seconds: float
    h1_seconds: float
    query_repeats: int

    @classmethod
    def quick(cls) -> Sizes:
        """Under 10 minutes on a 2-core machine."""
        return cls("quick", 4.0, 1.0, 100_000, 100_000, (10_000, 100_000), 10, 12.0, 8.0, 200)

    @classmethod
    def full(cls) -> Sizes:
        """The sizes the issue names (1,000,000 events; 10^6 sessions)."""
        return cls(
            "full", 15.0, 3.0, 1_000_000, 1_000_000, (10_000, 100_000, 1_000_000), 50, 30.0,
            20.0, 1000,
        )  # fmt: skip


@dataclass
class Row:
    """One line of the results: the ledger against its baseline, measured in the same run."""

    id: str
    case: str
    metric: str
    ledger: float | None = None
    baseline: float | None = None
    baseline_name: str = ""
    higher_is_better: bool = True
    p50_ms: float | None = None
    p99_ms: float | None = None
    baseline_p50_ms: float | None = None
    baseline_p99_ms: float | None = None
    goal: str = ""
    goal_met: bool | None = None
    store: str = ""
    status: str = "ok"
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """Ledger figure divided by the baseline's."""
        if self.ledger is None or not self.baseline:
            return None
        return self.ledger / self.baseline

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the JSON file."""
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


def not_run(id_: str, case: str, metric: str, why: str) -> Row:
    """A row for a benchmark that could not run (and why)."""
    return Row(id=id_, case=case, metric=metric, status="not run", notes=why)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def ms(seconds: float | None) -> float | None:
    """Seconds to milliseconds (None stays None)."""
    return None if seconds is None else seconds * 1000


@dataclass
class Throughput:
    """Operations completed in a measured window, with each one's latency."""

    ops: int
    seconds: float
    latencies: list[float]
    errors: int = 0
    first_error: str = ""

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float | None:
        """Median latency in ms."""
        return ms(percentile(self.latencies, 50))

    @property
    def p99_ms(self) -> float | None:
        """99th percentile latency in ms."""
        return ms(percentile(self.latencies, 99))


def run_clients(
    op: Callable[[int, int], object],
    *,
    clients: int,
    seconds: float,
    warmup: float,
    setup: Callable[[int], object] | None = None,
) -> Throughput:
    """`clients` threads call `op(client, n)` in a loop; count what ends in the window.

    Each thread runs for `warmup + seconds`; operations that complete inside the last
    `seconds` are counted (and their latencies kept). Errors are counted, never raised.
    """
    ready = threading.Barrier(clients + 1, timeout=300)
    go = threading.Barrier(clients + 1, timeout=300)
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    window: dict[str, float] = {}

    def client(index: int) -> None:
        try:
            if setup is not None:
                setup(index)
        except Exception as e:
            with lock:
                errors.append(f"setup: {type(e).__name__}: {e}")
            ready.wait()
            go.wait()
            return
        ready.wait()
        go.wait()
        mine: list[float] = []
        n = 0
        while True:
            began = time.perf_counter()
            if began >= window["end"]:
                break
            try:
                op(index, n)
            except Exception as e:
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
                continue
            finally:
                n += 1
            done = time.perf_counter()
            if window["start"] <= began and done <= window["end"]:
                mine.append(done - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    now = time.perf_counter()
    window["start"], window["end"] = now + warmup, now + warmup + seconds
    go.wait()
    for thread in threads:
        thread.join()
    return Throughput(len(latencies), seconds, latencies, len(errors), errors[0] if errors else "")


def time_each(op: Callable[[int], object], repeats: int) -> list[float]:
    """Latencies (seconds) of `repeats` sequential calls `op(n)`."""
    latencies = []
    for n in range(repeats):
        began = time.perf_counter()
        op(n)
        latencies.append(time.perf_counter() - began)
    return latencies
