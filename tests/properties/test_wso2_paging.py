"""Properties of WSO2-style paging by login milliseconds (`ledger.api.wso2_search`).

For random sets of sessions crowded into a few milliseconds (so pages often end inside
one) and random page sizes, following `next` links from the first page, and `previous`
links back from the last, shows every session exactly once, newest first; a page is longer
than `limit` only when all its sessions share one millisecond. The source here is a plain
sorted list filtered by the request's bounds, standing in for the view (the view's own
order and bounds are covered by tests/api/test_wso2_search.py on both databases). What
stops it passing trivially: the sets are never empty and the pages are counted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ledger.api.wso2_search import (
    SearchPage,
    bounds_us,
    links,
    login_ms,
    take_newest,
    take_oldest,
)
from ledger.projections.deltas import to_us
from ledger.records import SessionRecord

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def record(n: int, us: int) -> SessionRecord:
    started = T0 + timedelta(microseconds=us)
    return SessionRecord(
        id=f"s{n:03d}",
        tenant="t",
        user_id="u",
        started_at=started,
        last_active_at=started,
        expires_at=started + timedelta(hours=1),
        ip=None,
        user_agent=None,
    )


SETS = st.lists(st.integers(0, 6_000), min_size=1, max_size=40).map(
    lambda times: [record(n, us) for n, us in enumerate(times)]
)


def request(
    sessions: list[SessionRecord], *, limit: int, since: int | None, until: int | None
) -> SearchPage:
    """What the endpoint does, over a list instead of the view."""
    low, high = bounds_us(None, since=since, until=until)
    chosen = [
        r
        for r in sessions
        if (low is None or to_us(r.started_at) >= low)
        and (high is None or to_us(r.started_at) < high)
    ]
    chosen.sort(key=lambda r: (r.started_at, r.id), reverse=True)
    if since is not None:
        return take_oldest(chosen, limit)
    return take_newest(chosen, limit)


def params(link: str) -> dict[str, int]:
    return {k: int(v[0]) for k, v in parse_qs(urlsplit(link).query).items()}


def check_page(page: SearchPage, limit: int) -> None:
    assert page.sessions
    if len(page.sessions) > limit:
        assert len({login_ms(r) for r in page.sessions}) == 1


@given(SETS, st.integers(1, 7))
def test_next_then_previous_links_show_every_session_once_newest_first(
    sessions: list[SessionRecord], limit: int
) -> None:
    forward: list[SearchPage] = []
    since = until = None
    while True:
        page = request(sessions, limit=limit, since=since, until=until)
        check_page(page, limit)
        forward.append(page)
        previous, following = links(page, limit=limit, filter_text=None, since=since, until=until)
        assert (previous is None) == (len(forward) == 1)
        if following is None:
            break
        assert params(following)["limit"] == limit
        since, until = None, params(following)["until"]
    shown = [r for p in forward for r in p.sessions]
    newest_first = sorted(sessions, key=lambda r: (r.started_at, r.id), reverse=True)
    assert [r.id for r in shown] == [r.id for r in newest_first]
    back = [forward[-1]]
    since = None  # the last page was asked for with `until` alone
    while True:
        previous, _ = links(back[-1], limit=limit, filter_text=None, since=since, until=until)
        if previous is None:
            break
        since, until = params(previous)["since"], None
        page = request(sessions, limit=limit, since=since, until=None)
        check_page(page, limit)
        back.append(page)
    again = [r.id for p in reversed(back) for r in p.sessions]
    assert again == [r.id for r in newest_first]


def test_more_sessions_in_one_millisecond_than_the_limit_are_shown_together() -> None:
    crowd = [record(n, 500 + n) for n in range(5)] + [record(9, 2_000)]
    first = request(crowd, limit=2, since=None, until=None)
    assert [r.id for r in first.sessions] == ["s009"]
    second = request(crowd, limit=2, since=None, until=login_ms(first.sessions[0]))
    assert [r.id for r in second.sessions] == ["s004", "s003", "s002", "s001", "s000"]
    assert not second.more
