"""Fast seeding of real ledger events for tests that need many (valid events, saved in bulk)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger.aggregates import Account, Session
from ledger.application import SessionLedger


def seed_sessions(
    ledger: SessionLedger,
    *,
    count: int,
    users: int = 50,
    tenant: str = "acme",
    start: datetime,
    end_every: int = 3,
    idle_timeout_s: int = 86_400,
    batch: int = 200,
    prefix: str = "seed",
) -> int:
    """Start `count` sessions (ending every `end_every`-th), saving `batch` at a time.

    Returns the log position reached. The events are exactly what the commands would record.
    """
    accounts: dict[str, Account] = {}
    pending: list[object] = []
    position = 0
    for n in range(count):
        user = f"user{n % users}"
        account = accounts.get(user)
        if account is None:
            account = Account(tenant=tenant, user_id=user)
            accounts[user] = account
        at = start + timedelta(seconds=n)
        session = Session(
            tenant=tenant,
            session_id=f"{prefix}{n}",
            user_id=user,
            at=at,
            ip="10.0.0.1",
            user_agent="Mozilla/5.0",
            application={"id": f"app{n % 3}", "name": "App"},
            auth_methods=["pwd"],
            idle_timeout_s=idle_timeout_s,
            max_lifetime_s=86_400 * 30,
        )
        account.add_session(session_id=f"{prefix}{n}", started_at=at)
        if n % end_every == 0:
            session.terminate(at=at + timedelta(seconds=1), reason="logout", actor=user)
            account.close_sessions(session_ids=[f"{prefix}{n}"], at=at)
        pending.append(session)
        if len(pending) >= batch:
            position = _save(ledger, pending, accounts)
            pending = []
    if pending:
        position = _save(ledger, pending, accounts)
    return position


def _save(ledger: SessionLedger, sessions: list[object], accounts: dict[str, Account]) -> int:
    recordings = ledger.save(*accounts.values(), *sessions)  # type: ignore[arg-type]
    return max(r.notification.id for r in recordings)
