"""The ledger while its PostgreSQL database crashes, restarts or stays away, under concurrent
load through the HTTP API (a real `ledger serve` process, a throw-away cluster of its own):

* every start answered 201 is in the log afterwards (read by `ledger-replay export`), and
  `ledger-replay verify` passes (the views hold exactly what the log makes);
* while the database is away every request is answered within `HANG_BOUND_S` with a 503
  problem naming the cause and `Retry-After`; `/readyz` is 503, `/healthz` 200 at once;
* once it is back the service serves again without a restart (a start is answered 201 and
  read back from the views at once) within `RECOVERY_BOUND_S`, and `/readyz` is 200;
* after the restart, the ledger process SIGKILLed mid-load and served again loses nothing
  either (the same check as on SQLite in test_process_faults.py, on this database).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import Cluster
from tests.faults.conftest import StartLedger
from tests.faults.harness import (
    HANG_BOUND_S,
    Load,
    Prober,
    logged_sessions,
    read_your_write,
    verify,
)
from tests.faults.test_process_faults import kill_mid_load

pytestmark = [pytest.mark.faults, pytest.mark.slow]
RECOVERY_BOUND_S = 5.0 + 2.0  # the goal is 5 s; the margin is for a busy shared machine
OUTAGE_S = 5.0
"""How long the database stays away (the issue measured 20 s and 40 s outages). Five seconds
prove the point within the tier's CI budget: longer than the pools' reconnect timeout (2 s)
and the projection runners' longest restart delay (1 s), so recovery after it follows the
gate's probes, not a schedule that grows with the outage."""


def first_success_after(load: Load, moment: float) -> float:
    """Seconds from `moment` to the first start sent after it that was answered 201."""
    sent = sorted(a.sent + a.elapsed for a in load.answers if a.sent >= moment and a.status == 201)
    assert sent, "no start succeeded after the database came back"
    return sent[0] - moment


def check_outage_answers(load: Load, start: float, end: float, ledger_log: Path) -> None:
    """Requests sent while the database was away: a 503 problem, in time, with Retry-After."""
    during = load.between(start, end)
    assert during, "no request was sent during the outage"
    slow = [a for a in during if a.elapsed > HANG_BOUND_S]
    assert not slow, f"{slow}; the ledger's log ends: {ledger_log.read_text()[-4000:]}"
    for answer in during:
        assert answer.status == 503, answer
        assert answer.content_type == "application/problem+json", answer
        assert answer.retry_after is not None, answer
        assert answer.detail.startswith("the database is not reachable"), answer


def check_nothing_lost(load: Load, database_url: str) -> None:
    """Every acknowledged start is in the log; the views equal a rebuild."""
    acknowledged = load.acknowledged()
    assert acknowledged
    assert acknowledged <= logged_sessions(database_url)
    verify(database_url)


def test_an_immediate_restart_then_a_killed_ledger_lose_nothing_and_the_service_recovers(
    cluster: Cluster, pg_url: str, start_ledger: StartLedger
) -> None:
    ledger = start_ledger(pg_url)
    load = Load(ledger.base).start()
    time.sleep(1.5)
    cluster.restart("immediate")
    back = time.monotonic()
    time.sleep(2.5)
    load.stop()
    assert all(a.elapsed <= HANG_BOUND_S for a in load.answers), max(
        load.answers, key=lambda a: a.elapsed
    )
    assert {a.status for a in load.answers} <= {201, 503}
    assert first_success_after(load, back) <= RECOVERY_BOUND_S
    read_your_write(ledger.base, "after-restart")
    ledger.stop()
    # then the ledger itself SIGKILLed mid-load, and served again
    killed = kill_mid_load(pg_url, start_ledger)
    assert load.acknowledged() | killed <= logged_sessions(pg_url)
    verify(pg_url)


@pytest.mark.parametrize("outage_s", [OUTAGE_S])
def test_a_database_away_for_a_while_is_answered_503_at_once_and_recovered_from(
    cluster: Cluster, pg_url: str, start_ledger: StartLedger, outage_s: float
) -> None:
    ledger = start_ledger(pg_url)
    ready = Prober(f"{ledger.base}/readyz").start()
    health = Prober(f"{ledger.base}/healthz").start()
    load = Load(ledger.base).start()
    time.sleep(1.5)
    cluster.stop("fast")
    down = time.monotonic()
    with ThreadPoolExecutor(48) as pool, httpx.Client(timeout=30) as client:
        # the crowd of probes that once left /healthz silent for 30 s
        crowd = list(pool.map(lambda _: client.get(f"{ledger.base}/readyz"), range(48)))
    time.sleep(max(0.0, outage_s - (time.monotonic() - down)))
    cluster.start()
    back = time.monotonic()
    time.sleep(3)
    load.stop()
    ready.stop()
    health.stop()

    assert {r.status_code for r in crowd} == {503}
    check_outage_answers(load, down + 0.5, back - 0.5, ledger.log)
    assert {p.status for p in ready.between(down + 2, back)} == {503}
    recovered = [p for p in ready.between(back, back + 10) if p.status == 200]
    assert recovered and recovered[0].sent + recovered[0].elapsed - back <= 2.0 + 1.5
    assert health.probes and {p.status for p in health.probes} == {200}
    # the goal is 100 ms; on a shared 2-core machine the client's own threads take more
    assert max(p.elapsed for p in health.probes) <= 1.0
    assert first_success_after(load, back) <= RECOVERY_BOUND_S
    read_your_write(ledger.base, "after-outage")
    check_nothing_lost(load, pg_url)
