"""Background workers: a thread that runs one job every `interval` seconds until stopped.

The reaper and the sealer are workers; the composition root (`ledger.bootstrap`) builds them
and `serve` or `project` starts them. A failed run is logged and retried at the next period;
a worker never dies of its job's error. Tests: tests/integration/test_workers.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol


class Worker(Protocol):
    """Something that runs in the background between `start()` and `stop()`."""

    name: str

    def start(self) -> None:
        """Start running in the background."""

    def stop(self) -> None:
        """Stop, waiting a bounded time for the current run to end."""


class Periodic:
    """Runs `job` every `interval` seconds in a daemon thread; failures are logged."""

    def __init__(self, name: str, interval: float, job: Callable[[], object]) -> None:
        self.name, self.interval, self.job = name, interval, job
        self.failures = 0
        self.last_error: str | None = None
        self._log = logging.getLogger(f"ledger.{name}")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (again, after a stop)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop it (waits up to 10 s for a run in progress)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception as e:  # keep running; the next period retries
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
                self._log.warning("%s run failed: %s", self.name, e)
