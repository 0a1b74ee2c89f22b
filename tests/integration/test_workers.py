"""Background workers: periodic, surviving their job's failures; the composition root's set."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.log_store import LogStore
from ledger.reaper import Reaper
from ledger.seals import seal_list
from ledger.workers import Periodic


def _wait(condition: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_periodic_worker_keeps_running_after_its_job_fails_and_can_be_restarted() -> None:
    runs: list[int] = []
    ran = threading.Event()
    runners: set[threading.Thread] = set()

    def job() -> None:
        runners.add(threading.current_thread())
        runs.append(1)
        ran.set()
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    worker = Periodic("flaky", 0.01, job)
    worker.start()
    assert _wait(lambda: len(runs) >= 3)
    worker.stop()
    assert worker.failures == 1
    assert worker.last_error == "RuntimeError: first run fails"
    # Stopped means no thread that ran the job is alive: none can run it again.
    assert runners and not any(t.is_alive() for t in runners)
    stopped_at = len(runs)
    worker.start()
    assert _wait(lambda: len(runs) > stopped_at)
    worker.stop()


def test_the_composition_root_builds_the_reaper_and_the_sealer_and_starts_them_on_demand(
    make_settings: Callable[..., Settings],
) -> None:
    system = bootstrap(make_settings(seal_interval_s=0.05), run_projections=False)
    try:
        assert [w.name for w in system.workers] == ["reaper", "sealer"]
        assert isinstance(system.workers[0], Reaper)
        system.ledger.start_session(tenant="acme", user_id="ann", session_id="s1")
        head = system.ledger.recorder.max_notification_id()
        with LogStore.open(system.settings.events_url) as store:
            assert list(seal_list(store)) == []
        system.start_workers()
        system.start_workers()  # idempotent

        def sealed_to_head() -> bool:
            with LogStore.open(system.settings.events_url) as store:
                last = next(seal_list(store, last_only=True), None)
                return last is not None and last.upto == head

        assert _wait(sealed_to_head)
    finally:
        system.close()
