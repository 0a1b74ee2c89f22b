"""Paging of WSO2's session search (`GET /sessions?filter=&limit=&since=&until=`).

As WSO2's own implementation pages it: newest login first; `until=<ms>` asks for sessions
that logged in before that millisecond (the next page), `since=<ms>` for those after it
(the previous page, the `limit` oldest of them); the `next` link carries the login time of
the page's last session, `previous` that of its first. Login times are milliseconds, and
several sessions can share one: so a page never ends inside a millisecond. When the
session after the page's last one logged in within the same millisecond, that millisecond's
sessions move to the next page (or, if they alone fill the page, all of them are shown,
the page then being longer than `limit`). So following the links never skips nor repeats a
session that stays open meanwhile, however many sessions start or end between two pages.
Tests: tests/properties/test_wso2_paging.py, tests/api/test_wso2_search.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote_plus

from ledger.api.scim_filter import Filter, exact_ip, login_bounds, matches, ms
from ledger.projections.active_sessions import ActiveSessionsView, SessionFilter
from ledger.projections.deltas import from_us, to_us
from ledger.projections.pages import MAX_LIMIT
from ledger.records import SessionRecord

DEFAULT_LIMIT = 20
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z, the last moment a datetime holds


@dataclass(frozen=True)
class SearchPage:
    """The sessions of one page, newest first, and whether more lie beyond it."""

    sessions: list[SessionRecord]
    more: bool


def login_ms(record: SessionRecord) -> int:
    """The session's login time in epoch milliseconds."""
    return ms(to_us(record.started_at))


def cut(ordered: list[SessionRecord], limit: int) -> SearchPage:
    """The first `limit` of `ordered` (login time running away from the page's start),
    never splitting a millisecond across the page's far edge."""
    if len(ordered) <= limit:
        return SearchPage(list(ordered), more=False)
    edge = login_ms(ordered[limit - 1])
    if login_ms(ordered[limit]) != edge:
        return SearchPage(ordered[:limit], more=True)
    before = [r for r in ordered[:limit] if login_ms(r) != edge]
    if before:
        return SearchPage(before, more=True)
    group = [r for r in ordered if login_ms(r) == edge]
    return SearchPage(group, more=len(group) < len(ordered))


def take_newest(records: Iterable[SessionRecord], limit: int) -> SearchPage:
    """A page from the newest end of `records` (given newest first)."""
    taken: list[SessionRecord] = []
    for record in records:
        taken.append(record)
        if len(taken) > limit and login_ms(record) != login_ms(taken[limit - 1]):
            break
    return cut(taken, limit)


def take_oldest(records: Iterable[SessionRecord], limit: int) -> SearchPage:
    """A page from the oldest end of `records` (given newest first); shown newest first."""
    kept: list[SessionRecord] = []
    dropped = False
    for record in records:
        kept.append(record)
        if len(kept) > 2 * (limit + 1):  # drop what can no longer be among the oldest
            floor = login_ms(kept[-(limit + 1)])
            before = len(kept)
            kept = [r for r in kept if login_ms(r) <= floor]
            dropped = dropped or len(kept) < before  # only a real drop means "more"
    kept.reverse()
    page = cut(kept, limit)
    return SearchPage(page.sessions[::-1], page.more or dropped)


def bounds_us(
    f: Filter | None, *, since: int | None, until: int | None
) -> tuple[int | None, int | None]:
    """[low, high) in epoch microseconds of login times the request allows (None: open).

    Any integer is accepted: bounds beyond what a datetime holds are clamped or dropped.
    """
    low_ms, high_ms = login_bounds(f)  # loginTime ge / le are inclusive
    lows = [x for x in (low_ms, None if since is None else since + 1) if x is not None]
    highs = [x for x in (high_ms, None if until is None else until - 1) if x is not None]
    low = max(lows) if lows and max(lows) > 0 else None
    high = min(highs) if highs and min(highs) < MAX_MS else None
    return (
        None if low is None else min(low, MAX_MS) * 1000,
        None if high is None else (max(high, -1) + 1) * 1000,
    )


def candidates(
    view: ActiveSessionsView,
    tenant: str,
    *,
    now: datetime,
    f: Filter | None,
    since: int | None,
    until: int | None,
) -> Iterator[SessionRecord]:
    """The tenant's open sessions the request selects, newest first, read a page at a time."""
    low, high = bounds_us(f, since=since, until=until)
    if low is not None and high is not None and low >= high:
        return
    filters = SessionFilter(
        ip=exact_ip(f),
        started_after=None if low is None else from_us(low),
        started_before=None if high is None else from_us(high),
    )
    cursor: str | None = None
    while True:
        page = view.list_sessions(tenant, now=now, filters=filters, limit=MAX_LIMIT, cursor=cursor)
        yield from (r for r in page.sessions if matches(f, r))
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def search(
    view: ActiveSessionsView,
    tenant: str,
    *,
    now: datetime,
    f: Filter | None,
    limit: int,
    since: int | None,
    until: int | None,
) -> SearchPage:
    """One page of the search, as WSO2 pages it (see the module's docstring)."""
    found = candidates(view, tenant, now=now, f=f, since=since, until=until)
    if since is not None:
        return take_oldest(found, limit)
    return take_newest(found, limit)


def links(
    page: SearchPage, *, limit: int, filter_text: str | None, since: int | None, until: int | None
) -> tuple[str | None, str | None]:
    """(previous, next) relative links, present exactly when WSO2's implementation gives them."""
    if not page.sessions:
        return None, None
    first = (since is None and until is None) or (since is not None and not page.more)
    last = not page.more and (until is not None or since is None)
    query = f"sessions?limit={limit}"
    if filter_text:
        query += "&filter=" + quote_plus(filter_text)
    previous = None if first else f"{query}&since={login_ms(page.sessions[0])}"
    following = None if last else f"{query}&until={login_ms(page.sessions[-1])}"
    return previous, following


def effective_limit(limit: int | None) -> int:
    """WSO2's default for a missing or non-positive limit; at most MAX_LIMIT."""
    if limit is None or limit <= 0:
        return DEFAULT_LIMIT
    return min(limit, MAX_LIMIT)
