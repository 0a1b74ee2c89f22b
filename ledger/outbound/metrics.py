"""What operators see of deliveries: per receiver, lag behind the log, backlog, last success,
last error and attempts; read from the store when asked (the admin endpoint, a scrape).
Identity providers' connections are receivers too (`connection:<name>`, kind `wso2` or
`keycloak`): their lag is the enforcement lag, `gone` counts the kept messages the IdP
answered 404 to (nothing left to end there).

Lag is in log positions: how far the oldest message not yet delivered is behind the log's
head (or, with nothing pending, how far the outbox process itself is behind).
Tests: tests/outbound/test_delivery.py, tests/enforcement/test_enforcement.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ledger.outbound import queue, receivers
from ledger.outbound.store import IDP_KINDS

if TYPE_CHECKING:
    from ledger.outbound.runtime import Outbound

APP_NAME = "SessionLedger"


def delivery_stats(outbound: Outbound, *, tenant: str | None) -> list[dict[str, Any]]:
    """One entry per receiver (of `tenant`, or all)."""
    head = outbound.head()
    tracked = outbound.store.max_tracking_id(APP_NAME) or 0
    backlog = queue.backlog(outbound.store)
    gone = queue.gone_counts(outbound.store)
    stats = []
    for r in receivers.find(outbound.store, tenant=tenant, owner=None, kind=None):
        pending, oldest = backlog.get(r["receiver_id"], (0, None))
        behind_from = oldest - 1 if oldest is not None else tracked
        stats.append(
            {
                "id": r["receiver_id"],
                "kind": r["kind"],
                "connection": r["config"].get("connection") if r["kind"] in IDP_KINDS else None,
                "tenant": r["tenant"],
                "owner": r["owner"],
                "status": r["status"],
                "status_reason": r["status_reason"],
                "lag": max(0, head - max(behind_from, r["from_position"])),
                "pending": pending,
                "attempts": r["attempts"],
                "delivered": r["delivered"],
                "gone": gone.get(r["receiver_id"], 0),
                "last_success_at": r["last_success_at"],
                "last_error": r["last_error"],
                "last_error_at": r["last_error_at"],
            }
        )
    return stats


class OutboundCollector(Collector):
    """`ledger_outbound_*{receiver, kind}` at scrape time (nothing when the db is down)."""

    def __init__(self, outbound: Outbound) -> None:
        self.outbound = outbound

    def collect(self) -> Iterator[Any]:
        """Lag, backlog, last success, attempts, failing and gone per receiver."""
        labels = ["receiver", "kind"]
        lag = GaugeMetricFamily("ledger_outbound_lag", "Log positions behind", labels=labels)
        pending = GaugeMetricFamily("ledger_outbound_pending", "Messages held", labels=labels)
        success = GaugeMetricFamily(
            "ledger_outbound_last_success_timestamp_seconds", "Last delivery", labels=labels
        )
        attempts = CounterMetricFamily(
            "ledger_outbound_attempts", "Delivery attempts", labels=labels
        )
        failing = GaugeMetricFamily(
            "ledger_outbound_failing", "1 when the last attempt failed", labels=labels
        )
        gone = GaugeMetricFamily(
            "ledger_outbound_gone", "Kept messages the receiver had already ended", labels=labels
        )
        try:
            stats = delivery_stats(self.outbound, tenant=None)
        except Exception:  # a scrape must not fail when the db is down
            stats = []
        for s in stats:
            key = [s["id"], s["kind"]]
            lag.add_metric(key, s["lag"])
            pending.add_metric(key, s["pending"])
            success.add_metric(key, s["last_success_at"] or 0)
            attempts.add_metric(key, s["attempts"])
            failed = (s["last_error_at"] or 0) > (s["last_success_at"] or 0)
            failing.add_metric(key, 1.0 if failed else 0.0)
            gone.add_metric(key, s["gone"])
        yield from (lag, pending, success, attempts, failing, gone)
