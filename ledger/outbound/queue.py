"""The outbox as the senders see it: the next message of a receiver, outcomes, poll and acks.

Only the oldest pending message of a receiver is ever offered (push and webhooks), so a
receiver gets its messages in log order; a failure holds the ones behind it. The poll side
(RFC 8936) hands out pending messages in order until they are acknowledged. `redeliver`
makes every message from a log position pending again, as long as it is kept: `prune` forgets
finished messages after `LEDGER_OUTBOUND_RETENTION_S`. An identity provider that had already
ended a session answers 404: the message is done (`gone`, counted as a success).
Tests: tests/outbound/test_delivery.py, tests/outbound/test_poll.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.outbound.store import DELIVERED, GONE, PENDING, REJECTED, OutboxStorage


@dataclass(frozen=True)
class Message:
    """One queued message for one receiver."""

    seq: int
    receiver_id: str
    position: int | None
    msg_id: str
    body: dict[str, Any]
    attempts: int
    next_attempt_at: float


def _message(store: OutboxStorage, row: Any) -> Message:
    return Message(
        seq=int(row["seq"]),
        receiver_id=row["receiver_id"],
        position=row["position"],
        msg_id=row["msg_id"],
        body=store.json_value(row["body"]),
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
    )


SELECT = "SELECT seq, receiver_id, position, msg_id, body, attempts, next_attempt_at"


def pending(store: OutboxStorage, receiver_id: str, *, limit: int) -> list[Message]:
    """The receiver's oldest pending messages, in order."""
    with store.read() as c:
        c.execute(
            f"{SELECT} FROM {store.t('outbound_outbox')} WHERE receiver_id = ? AND state = ?"
            " ORDER BY seq LIMIT ?",
            (receiver_id, PENDING, limit),
        )
        return [_message(store, row) for row in c.fetchall()]


def delivered(store: OutboxStorage, message: Message) -> None:
    """Record a successful delivery."""
    _finish(store, message, state=DELIVERED, error=None)


def gone(store: OutboxStorage, message: Message, note: str) -> None:
    """Record that the receiver had nothing left to end (a success, noted as such)."""
    _finish(store, message, state=GONE, error=note)


def rejected(store: OutboxStorage, message: Message, error: str) -> None:
    """Record a refusal that no retry can cure (the message is not sent again)."""
    _finish(store, message, state=REJECTED, error=error)


def _finish(store: OutboxStorage, message: Message, *, state: str, error: str | None) -> None:
    now = time.time()
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_outbox')} SET state = ?, attempts = attempts + 1,"
            " last_error = ?, done_at = ? WHERE seq = ? AND state = ?",
            (state, error, now, message.seq, PENDING),
        )
        ok = state in (DELIVERED, GONE)
        _count(store, c, message.receiver_id, now=now, error=None if ok else error, ok=ok)


def _count(
    store: OutboxStorage, c: Any, receiver_id: str, *, now: float, error: str | None, ok: bool
) -> None:
    r = store.t("outbound_receivers")
    if ok:
        c.execute(
            f"UPDATE {r} SET attempts = attempts + 1, delivered = delivered + 1,"
            " last_success_at = ? WHERE receiver_id = ?",
            (now, receiver_id),
        )
    else:
        c.execute(
            f"UPDATE {r} SET attempts = attempts + 1, last_error = ?, last_error_at = ?"
            " WHERE receiver_id = ?",
            (error, now, receiver_id),
        )


def failed(store: OutboxStorage, message: Message, error: str, *, retry_at: float) -> None:
    """Record a failed attempt; the message is offered again at `retry_at`."""
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_outbox')} SET attempts = attempts + 1, last_error = ?,"
            " next_attempt_at = ? WHERE seq = ?",
            (error, retry_at, message.seq),
        )
        _count(store, c, message.receiver_id, now=time.time(), error=error, ok=False)


def acknowledge(
    store: OutboxStorage, receiver_id: str, acks: Iterable[str], errors: dict[str, str]
) -> None:
    """RFC 8936 §2.4: acknowledged SETs are done; `setErrs` are recorded and done too."""
    now = time.time()
    with store.txn(commit=True) as c:
        o = store.t("outbound_outbox")
        for jti in acks:
            c.execute(
                f"UPDATE {o} SET state = ?, done_at = ? WHERE receiver_id = ? AND msg_id = ?"
                " AND state = ?",
                (DELIVERED, now, receiver_id, jti, PENDING),
            )
            _count(store, c, receiver_id, now=now, error=None, ok=True)
        for jti, error in errors.items():
            c.execute(
                f"UPDATE {o} SET state = ?, last_error = ?, done_at = ? WHERE receiver_id = ?"
                " AND msg_id = ? AND state = ?",
                (REJECTED, error, now, receiver_id, jti, PENDING),
            )
            _count(store, c, receiver_id, now=now, error=error, ok=False)


def redeliver(store: OutboxStorage, receiver_id: str, *, from_position: int) -> int:
    """Make every message of the receiver from log position `from_position` pending again."""
    with store.txn(commit=True) as c:
        c.execute(
            f"UPDATE {store.t('outbound_outbox')} SET state = ?, attempts = 0,"
            " next_attempt_at = 0, last_error = NULL WHERE receiver_id = ? AND position >= ?"
            " RETURNING seq",
            (PENDING, receiver_id, from_position),
        )
        return len(c.fetchall())


def prune(store: OutboxStorage, *, done_before: float) -> int:
    """Forget messages finished (delivered, refused or dropped) before `done_before`."""
    with store.txn(commit=True) as c:
        c.execute(
            f"DELETE FROM {store.t('outbound_outbox')} WHERE state <> ? AND done_at < ?"
            " RETURNING seq",
            (PENDING, done_before),
        )
        return len(c.fetchall())


def backlog(store: OutboxStorage) -> dict[str, tuple[int, int | None]]:
    """Per receiver: pending messages, and the log position of the oldest one."""
    with store.read() as c:
        c.execute(
            f"SELECT receiver_id, COUNT(*) AS n, MIN(position) AS oldest"
            f" FROM {store.t('outbound_outbox')} WHERE state = ? GROUP BY receiver_id",
            (PENDING,),
        )
        return {row["receiver_id"]: (int(row["n"]), row["oldest"]) for row in c.fetchall()}


def gone_counts(store: OutboxStorage) -> dict[str, int]:
    """Per receiver: kept messages the receiver said were already gone."""
    with store.read() as c:
        c.execute(
            f"SELECT receiver_id, COUNT(*) AS n FROM {store.t('outbound_outbox')}"
            " WHERE state = ? GROUP BY receiver_id",
            (GONE,),
        )
        return {row["receiver_id"]: int(row["n"]) for row in c.fetchall()}
