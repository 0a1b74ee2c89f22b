"""Runners: exactly once across a crash, restart after failure, one runner per projection.

Crash safety: a real `ledger project` process is SIGKILLed in the middle of a long catch-up
and started again; its views must then equal a clean rebuild from the log, with the tracking
position at the head of the log. An event applied twice (or skipped) would make the rows
differ: the rebuild is independent of the crashed run's tables.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from ledger.bootstrap import bootstrap
from ledger.config import Settings
from ledger.projections import positions
from ledger.projections.rebuild import build_scratch, open_events
from ledger.projections.registry import open_view
from ledger.projections.runner import APP_NAME, ProjectionLock
from tests.seeding import seed_sessions

T0 = datetime.now(UTC) - timedelta(hours=1)


def run_project(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_PROJECTION_BATCH": "40",
        "LEDGER_REAPER_INTERVAL_S": "3600",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_a_runner_killed_mid_catch_up_resumes_to_views_equal_to_a_clean_rebuild(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    system = bootstrap(settings, run_projections=False)
    head = seed_sessions(system.ledger, count=1200, start=T0)
    system.close()
    view, factory = open_view("active_sessions", settings)
    process = run_project(settings, "project")
    try:
        deadline = time.monotonic() + 60
        position = 0
        while time.monotonic() < deadline:
            position = view.max_tracking_id(APP_NAME) or 0
            if position > head // 5:
                break
            time.sleep(0.005)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        killed_at = view.max_tracking_id(APP_NAME) or 0
        assert 0 < killed_at < head, "the kill must land in the middle of the catch-up"
    finally:
        if process.poll() is None:
            process.kill()
    again = run_project(settings, "project", "--once")
    _, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    app = open_events(settings)
    for name in ("active_sessions", "session_history"):
        live, live_factory = open_view(name, settings)
        scratch, scratch_factory, _ = build_scratch(name, settings, app)
        assert live.max_tracking_id(APP_NAME) == app.recorder.max_notification_id() == head
        assert list(live.rows()) == list(scratch.rows())
        scratch.drop_tables()
        live_factory.close()
        scratch_factory.close()
    app.close()
    factory.close()


def test_a_failed_runner_is_restarted_from_its_tracking_position(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.projections.active_sessions import ActiveSessionsView

    original = ActiveSessionsView.apply
    failures = {"left": 1}

    def flaky(self: ActiveSessionsView, deltas: object, tracking: object) -> None:
        if failures["left"] and self.prefix == "":
            failures["left"] -= 1
            raise RuntimeError("disk on fire")
        original(self, deltas, tracking)  # type: ignore[arg-type]

    monkeypatch.setattr(ActiveSessionsView, "apply", flaky)
    system = bootstrap(make_settings(), run_projections=True)
    try:
        out = system.ledger.start_session(tenant="acme", user_id="alice", session_id="s1")
        assert system.wait(out.position, timeout=20)
        runner = system.projections.reader  # type: ignore[union-attr]
        assert runner.restarts == 1 and "disk on fire" in (runner.last_error or "")
        assert [s.id for s in system.active.user_sessions("acme", "alice", now=system.clock())] == [
            "s1"
        ]
    finally:
        system.close()


def test_a_second_process_waits_for_the_projection_lock(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    bootstrap(settings, run_projections=False).close()
    refused = threading.Semaphore(0)
    first = ProjectionLock("active_sessions", settings.views_url)
    second = ProjectionLock(
        "active_sessions", settings.views_url, retry_s=0.01, on_busy=refused.release
    )
    stop = threading.Event()
    assert first.acquire(stop)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(second.acquire(stop)))
    waiter.start()
    try:
        # Refused twice: the waiter tried, found the lock held, and tried again, still waiting.
        assert refused.acquire(timeout=10) and refused.acquire(timeout=10)
        assert got == []
        first.release()
        waiter.join(timeout=10)
        assert got == [True]
    finally:
        stop.set()
        first.release()
        waiter.join(timeout=10)
        second.release()


def test_runners_see_events_written_by_another_process(
    make_settings: Callable[..., Settings],
) -> None:
    """On SQLite no save in this process wakes the subscription: it must poll for them."""
    settings = make_settings()
    system = bootstrap(settings, run_projections=True)
    try:
        script = (
            "from ledger.bootstrap import bootstrap; from ledger.config import load_settings; "
            f"s = bootstrap(load_settings(database_url={settings.database_url!r}), "
            "run_projections=False); "
            "print(s.ledger.start_session(tenant='acme', user_id='alice', session_id='far')"
            ".position); s.close()"
        )
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
        )
        position = int(done.stdout.strip().splitlines()[-1])
        assert system.wait(position, timeout=15), system.lag()
        sessions = system.active.user_sessions("acme", "alice", now=system.clock())
        assert [s.id for s in sessions] == ["far"]
    finally:
        system.close()


def test_a_command_waits_on_the_positions_this_process_writers_posted(
    make_settings: Callable[..., Settings],
) -> None:
    """Read-your-writes without a query when the views run here; the tables otherwise."""
    system = bootstrap(make_settings(), run_projections=True)
    reader = bootstrap(make_settings(), run_projections=False)
    try:
        outcome = system.ledger.start_session(tenant="acme", user_id="bob", session_id="near")
        assert outcome.position is not None
        assert system.wait(outcome.position, timeout=15)
        places = [view.location() for view in system.views.values()]
        assert len(set(places)) == len(places) == len(system.views) > 1
        assert all(positions.reached(where, outcome.position) for where in places)
        assert not positions.reached(places[0], outcome.position + 1)
        # the same views seen through another system's storage objects: same locations
        assert [v.location() for v in reader.views.values()] == places
        assert reader.wait(outcome.position, timeout=1)
        assert not reader.wait(outcome.position + 1, timeout=0.05)  # nothing written there
    finally:
        reader.close()
        system.close()
