"""`LEDGER_AGGREGATE_CACHE_SIZE`: how many aggregates the command side keeps in memory.

The setting reaches the library's repository (an LRU cache of that size; 0: none at all, not
the library's unbounded cache), and a cached session is read back with only its newer events.
"""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.application import LRUCache

from ledger.bootstrap import bootstrap
from ledger.config import Settings


def test_the_cache_has_the_configured_size_and_zero_means_none(
    make_settings: Callable[..., Settings],
) -> None:
    sized = bootstrap(make_settings(aggregate_cache_size=123), run_projections=False)
    try:
        cache = sized.ledger.repository.cache
        assert isinstance(cache, LRUCache)
        assert cache.maxsize == 123
        outcome = sized.ledger.start_session(tenant="t", user_id="u", session_id="s")
        assert outcome.created
        assert len(cache.cache) == 2  # the session and its account, put there on commit
    finally:
        sized.close()
    off = bootstrap(make_settings(aggregate_cache_size=0), run_projections=False)
    try:
        assert off.ledger.repository.cache is None
        assert off.ledger.start_session(tenant="t", user_id="u2", session_id="s2").created
    finally:
        off.close()
