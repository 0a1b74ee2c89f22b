"""The seen-messages store: first sight is atomic per (connection, event id), across stores
on one database (workers, restarts), until the replay window passes; SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.bootstrap import LedgerSystem
from ledger.persistence.seen_store import open_seen_store
from ledger.persistence.url import DatabaseURL

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_an_event_id_is_new_once_per_connection(
    database_url: str, write_only: LedgerSystem
) -> None:
    url = DatabaseURL.parse(database_url, setting="test")
    first, second = open_seen_store(url), open_seen_store(url)  # two workers
    try:
        until = NOW + timedelta(days=7)
        assert first.remember("asgardeo", "jti-1", until=until, now=NOW)
        assert not second.remember("asgardeo", "jti-1", until=until, now=NOW)
        assert second.remember("keycloak", "jti-1", until=until, now=NOW)
        second.forget("asgardeo", "jti-1")
        assert first.remember("asgardeo", "jti-1", until=until, now=NOW)
    finally:
        first.close()
        second.close()


def test_an_expired_id_is_purged_and_new_again(database_url: str, write_only: LedgerSystem) -> None:
    url = DatabaseURL.parse(database_url, setting="test")
    store = open_seen_store(url)
    try:
        assert store.remember("c", "e", until=NOW + timedelta(minutes=1), now=NOW)
        restarted = open_seen_store(url)  # a fresh store purges on its first write
        later = NOW + timedelta(minutes=2)
        assert restarted.remember("c", "other", until=later + timedelta(days=1), now=later)
        assert restarted.remember("c", "e", until=later + timedelta(days=1), now=later)
        restarted.close()
    finally:
        store.close()
