"""The delivery worker: sends what the outbox holds to push and webhook receivers.

At least once, in order per receiver: a receiver's oldest pending message is sent first and
a failure holds the ones behind it; retries back off exponentially with jitter (at most
`LEDGER_OUTBOUND_RETRY_MAX_S`, honouring `Retry-After`); after `LEDGER_OUTBOUND_MAX_ATTEMPTS`
failed attempts the receiver is disabled with a `stream-updated` SET. Paused receivers hold
their messages. Identity providers' session APIs (`ledger.outbound.enforcer`) are sent to
alike but never disabled: they keep retrying at the longest backoff until the IdP answers.
One worker runs across processes (the projections' lock).
Tests: tests/outbound/test_delivery.py, tests/outbound/test_faults.py, tests/enforcement/.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ledger.config import Settings
from ledger.outbound import control, queue, receivers
from ledger.outbound.enforcer import Enforcer
from ledger.outbound.http import client
from ledger.outbound.idp import IdpTarget
from ledger.outbound.keys import SigningKeys
from ledger.outbound.send import ENDED, GONE, OK, REJECT, Outcome, post_webhook, push_set
from ledger.outbound.store import IDP_KINDS, SSF, WEBHOOK, OutboxStorage
from ledger.projections.runner import ProjectionLock

log = logging.getLogger("ledger.outbound")
PUSH = "urn:ietf:rfc:8935"
BATCH = 50
PRUNE_EVERY_S = 600


def backoff_s(attempts: int, *, base: float, cap: float) -> float:
    """The wait after the `attempts`-th failure: exponential, capped, with equal jitter."""
    delay = float(min(cap, base * 2 ** min(attempts - 1, 40)))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret


def pushes(receiver: dict[str, Any]) -> bool:
    """Whether the worker sends to this receiver (webhooks, IdPs, and SSF push streams)."""
    if receiver["kind"] == WEBHOOK or receiver["kind"] in IDP_KINDS:
        return True
    return bool(receiver["config"].get("delivery", {}).get("method") == PUSH)


class Deliverer:
    """A thread sending the outbox's messages; `start()` / `stop()`."""

    def __init__(
        self,
        store: OutboxStorage,
        keys: SigningKeys | None,
        settings: Settings,
        *,
        lock: ProjectionLock,
        targets: Mapping[str, IdpTarget] | None = None,
    ) -> None:
        self.store, self.keys, self.settings, self.lock = store, keys, settings, lock
        self.client = client(
            allow_private=allow_private(settings), timeout=settings.outbound_timeout_s
        )
        self.enforcer = Enforcer(targets or {}, self.client)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-send")
        self._thread = threading.Thread(target=self._run, name="outbound-delivery", daemon=True)

    def start(self) -> None:
        """Start sending (once this process holds the delivery lock)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sending; an attempt in flight finishes (its outcome is recorded)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)
        self.client.close()

    def wake(self) -> None:
        """Look at the outbox now rather than at the next tick."""
        self._wake.set()

    def _run(self) -> None:
        try:
            if not self.lock.acquire(self._stop):
                return
            pruned_at = 0.0
            while not self._stop.is_set():
                if time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    pruned_at = time.monotonic()
                    self._prune()
                try:
                    busy = self.tick()
                except Exception as e:  # the database may be down for a while
                    log.warning("outbound delivery failed: %s", e)
                    busy = False
                if not busy:
                    self._wake.wait(0.2)
                    self._wake.clear()
        finally:
            self.lock.release()

    def _prune(self) -> None:
        retention = self.settings.outbound_retention_s
        try:
            queue.prune(self.store, done_before=time.time() - retention)
        except Exception as e:  # the next round retries
            log.warning("outbound pruning failed: %s", e)

    def tick(self) -> bool:
        """One round over every receiver; True when something was sent."""
        found = receivers.find(self.store, tenant=None, owner=None, kind=None)
        todo = [r for r in found if pushes(r) and r["status"] != "paused"]
        sent = list(self._pool.map(self._drain, todo))  # all of them: a receiver is drained
        return any(sent)  # by one thread at a time, or messages would go twice

    def _drain(self, receiver: dict[str, Any]) -> bool:
        """Send the receiver's due messages in order until one fails."""
        sent = False
        disabled = receiver["status"] == "disabled"
        for message in queue.pending(self.store, receiver["receiver_id"], limit=BATCH):
            if self._stop.is_set() or message.next_attempt_at > time.time():
                break
            if disabled and message.position is not None:
                continue  # a disabled receiver gets its stream-updated SET only
            outcome = self._send(receiver, message)
            sent = True
            if not self._record(receiver, message, outcome, final=disabled):
                break
        return sent

    def _send(self, receiver: dict[str, Any], message: queue.Message) -> Outcome:
        config = receiver["config"]
        if receiver["kind"] in IDP_KINDS:
            return self.enforcer.send(receiver, message.body)
        if receiver["kind"] == SSF:
            assert self.keys is not None
            return push_set(
                self.client, url=config["delivery"]["endpoint_url"], claims=message.body,
                keys=self.keys, authorization=config["delivery"].get("authorization_header"),
            )  # fmt: skip
        return post_webhook(
            self.client, url=config["url"], secret=receiver["secret"], msg_id=message.msg_id,
            message=message.body,
        )  # fmt: skip

    def _record(
        self, receiver: dict[str, Any], message: queue.Message, outcome: Outcome, *, final: bool
    ) -> bool:
        """Store the outcome; True when the next message may be sent."""
        if outcome.kind in (OK, ENDED):  # ENDED: the IdP had nothing left to end
            if outcome.kind == OK:
                queue.delivered(self.store, message)
            else:
                queue.gone(self.store, message, outcome.error or ENDED)
            return True
        error = outcome.error or outcome.kind
        if outcome.kind == REJECT or final:
            queue.rejected(self.store, message, error)
            return True
        if outcome.kind == GONE:
            queue.failed(self.store, message, error, retry_at=time.time())
            control.disable(self.store, receiver, "the endpoint answered 410 Gone")
            return False
        self._retry_later(receiver, message, outcome, error)
        return False

    def _retry_later(
        self, receiver: dict[str, Any], message: queue.Message, outcome: Outcome, error: str
    ) -> None:
        """Back off; past the bound a stream or webhook is disabled (an IdP never is)."""
        attempts = message.attempts + 1
        bounded = receiver["kind"] not in IDP_KINDS  # an IdP is retried until it answers
        if bounded and attempts >= self.settings.outbound_max_attempts:
            queue.failed(self.store, message, error, retry_at=time.time())
            control.disable(self.store, receiver, f"{attempts} failed deliveries; last: {error}")
            return
        wait = backoff_s(
            attempts,
            base=self.settings.outbound_retry_base_s,
            cap=self.settings.outbound_retry_max_s,
        )
        queue.failed(
            self.store, message, error, retry_at=time.time() + max(wait, outcome.retry_after_s or 0)
        )


def allow_private(settings: Settings) -> bool:
    """Whether receivers may name private addresses (explicitly, or in development mode)."""
    return settings.outbound_allow_private_networks or settings.dev_mode
