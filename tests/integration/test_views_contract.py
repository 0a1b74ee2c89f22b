"""The views' contract, run unchanged on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.bootstrap import LedgerSystem
from ledger.projections.active_sessions import SessionFilter
from ledger.projections.pages import InvalidCursor, encode_cursor
from tests.conftest import FakeClock


def start(system: LedgerSystem, sid: str, *, user: str = "alice", **kw: object) -> int | None:
    fields: dict[str, object] = {"tenant": "acme", "user_id": user, "session_id": sid}
    fields.update(kw)
    outcome = system.ledger.start_session(**fields)  # type: ignore[arg-type]
    return outcome.position


def settle(system: LedgerSystem, position: int | None) -> None:
    assert system.wait(position, timeout=15), system.lag()


def test_a_users_active_sessions_newest_first_with_their_details(
    system: LedgerSystem, clock: FakeClock
) -> None:
    start(
        system,
        "s1",
        ip="10.0.0.1",
        user_agent="UA",
        application={"id": "mail", "name": "Mail"},
        auth_methods=["pwd", "otp"],
    )
    clock.advance(seconds=5)
    settle(system, start(system, "s2"))
    sessions = system.active.user_sessions("acme", "alice", now=clock())
    assert [s.id for s in sessions] == ["s2", "s1"]
    s1 = sessions[1]
    assert (s1.ip, s1.user_agent, s1.auth_methods) == ("10.0.0.1", "UA", ["pwd", "otp"])
    assert s1.applications == [{"id": "mail", "name": "Mail"}]
    assert s1.expires_at == s1.started_at + timedelta(seconds=1800)


def test_activity_and_joins_update_the_row(system: LedgerSystem, clock: FakeClock) -> None:
    start(system, "s1", idle_timeout_s=600)
    clock.advance(seconds=120)
    system.ledger.record_activity(tenant="acme", session_id="s1", ip="10.0.0.9")
    out = system.ledger.record_activity(
        tenant="acme", session_id="s1", application={"id": "crm", "name": "CRM"}
    )
    settle(system, out.position)
    s1 = system.active.get("acme", "s1", now=clock())
    assert s1 is not None
    assert (s1.ip, s1.last_active_at, s1.expires_at) == (
        "10.0.0.9",
        clock(),
        clock() + timedelta(seconds=600),
    )
    assert [a["id"] for a in s1.applications] == ["crm"]
    history = system.history.get("acme", "s1")
    assert history is not None and history.applications == s1.applications


def test_a_terminated_session_leaves_the_active_view_and_keeps_its_history(
    system: LedgerSystem, clock: FakeClock
) -> None:
    start(system, "s1")
    out = system.ledger.terminate_session(
        tenant="acme", session_id="s1", reason="admin_terminated", actor="root", cause="ticket-7"
    )
    settle(system, out.position)
    assert system.active.get("acme", "s1", now=clock()) is None
    record = system.history.get("acme", "s1")
    assert record is not None
    assert (record.termination_reason, record.terminated_by, record.termination_cause) == (
        "admin_terminated",
        "root",
        "ticket-7",
    )
    assert record.status_at(clock()) == "ended"


def test_sessions_past_expiry_are_never_listed_even_before_the_reaper(
    system: LedgerSystem, clock: FakeClock
) -> None:
    settle(system, start(system, "s1", idle_timeout_s=60))
    clock.advance(seconds=60)
    now = clock()
    assert system.active.user_sessions("acme", "alice", now=now) == []
    assert system.active.get("acme", "s1", now=now) is None
    assert system.active.list_sessions("acme", now=now).sessions == []
    assert system.active.count_by_user("acme", now=now) == []
    assert system.active.due(now=now) == [("acme", "s1")]
    assert system.history.get("acme", "s1").status_at(now) == "expired"  # type: ignore[union-attr]


def test_the_tenant_list_filters_by_user_application_ip_and_start_time(
    system: LedgerSystem, clock: FakeClock
) -> None:
    t0 = clock()
    start(system, "a", user="alice", ip="10.0.0.1", application={"id": "mail", "name": "M"})
    clock.advance(minutes=1)
    start(system, "b", user="bob", ip="10.0.0.2")
    clock.advance(minutes=1)
    last = start(system, "c", user="bob", ip="10.0.0.1", application={"id": "crm", "name": "C"})
    system.ledger.record_activity(tenant="acme", session_id="b", application={"id": "mail"})
    settle(system, start(system, "x", tenant="other", user="bob"))
    assert last is not None
    now = clock()

    def ids(**kw: object) -> list[str]:
        page = system.active.list_sessions("acme", now=now, filters=SessionFilter(**kw))  # type: ignore[arg-type]
        return [s.id for s in page.sessions]

    assert ids() == ["c", "b", "a"]
    assert ids(user_id="bob") == ["c", "b"]
    assert ids(application_id="mail") == ["b", "a"]
    assert ids(ip="10.0.0.1") == ["c", "a"]
    assert ids(started_after=t0 + timedelta(seconds=30)) == ["c", "b"]
    assert ids(started_before=t0 + timedelta(seconds=30)) == ["a"]
    assert ids(application_id="mail", user_id="bob") == ["b"]
    assert system.active.count_by_user("acme", now=now) == [("alice", 1), ("bob", 2)]
    assert system.active.count_by_user("acme", now=now, prefix="b") == [("bob", 2)]


def test_pages_chain_by_cursor_without_gaps_or_repeats(
    system: LedgerSystem, clock: FakeClock
) -> None:
    last = None
    for n in range(7):
        clock.advance(seconds=1)
        last = start(system, f"s{n}", user=f"u{n % 2}")
    settle(system, last)
    seen: list[str] = []
    cursor = None
    while True:
        page = system.active.list_sessions("acme", now=clock(), limit=3, cursor=cursor)
        seen += [s.id for s in page.sessions]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"s{n}" for n in reversed(range(7))]


def test_pagination_under_concurrent_starts_and_ends_neither_skips_nor_repeats(
    system: LedgerSystem, clock: FakeClock
) -> None:
    """Sessions present throughout the paging all appear exactly once.

    The changes are interleaved deterministically: between two page fetches a newer session
    starts (ahead of the cursor) and a not-yet-listed one ends (behind it), and the view has
    them before the next fetch. Neither kind may appear on a later page, and the churn must be
    visible on a fresh first page, so the paging really ran against a changing view.
    """
    last = None
    for n in range(30):
        clock.advance(seconds=1)
        last = start(system, f"keep{n}")
        if n % 3 == 1:
            start(system, f"doomed{n}")
    settle(system, last)
    doomed = sorted((f"doomed{n}" for n in range(30) if n % 3 == 1), key=lambda d: int(d[6:]))
    seen: list[str] = []
    started: list[str] = []
    ended: list[str] = []
    cursor = None
    while True:
        page = system.active.list_sessions("acme", now=clock(), limit=4, cursor=cursor)
        seen += [s.id for s in page.sessions]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        clock.advance(seconds=1)
        started.append(f"new{len(started)}")
        position = start(system, started[-1], user="bob")
        unseen = [d for d in doomed if d not in seen and d not in ended]
        if unseen:  # the oldest one not listed yet, so it lies behind the cursor
            ended.append(unseen[0])
            position = system.ledger.terminate_session(
                tenant="acme", session_id=ended[-1], reason="logout", actor="i"
            ).position
        settle(system, position)
    assert sorted(sid for sid in seen if sid.startswith("keep")) == sorted(
        f"keep{n}" for n in range(30)
    )
    assert len(seen) == len(set(seen))
    assert len(started) >= 5 and len(ended) >= 5, "the churn ran between the pages"
    assert not set(seen) & (set(started) | set(ended))
    fresh = system.active.list_sessions("acme", now=clock(), limit=len(started))
    assert [s.id for s in fresh.sessions] == list(reversed(started))


def test_history_in_a_time_range(system: LedgerSystem, clock: FakeClock) -> None:
    t0 = clock()
    start(system, "early", idle_timeout_s=60)
    clock.advance(hours=2)
    start(system, "late")
    out = system.ledger.terminate_session(
        tenant="acme", session_id="late", reason="logout", actor="a"
    )
    settle(system, out.position)
    page = system.history.user_history("acme", "alice")
    assert [s.id for s in page.sessions] == ["late", "early"]
    window = system.history.user_history("acme", "alice", since=t0 + timedelta(hours=1))
    assert [s.id for s in window.sessions] == ["late"]
    window = system.history.user_history("acme", "alice", until=t0 + timedelta(minutes=1))
    assert [s.id for s in window.sessions] == ["early"]
    first = system.history.user_history("acme", "alice", limit=1)
    assert first.next_cursor is not None
    rest = system.history.user_history("acme", "alice", limit=1, cursor=first.next_cursor)
    assert [s.id for s in rest.sessions] == ["early"] and rest.next_cursor is None


@pytest.mark.parametrize("cursor", ["garbage", "", "eyJ4IjoxfQ", "A" * 300])
def test_a_malformed_cursor_is_a_clear_error(system: LedgerSystem, cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="invalid cursor"):
        system.active.list_sessions("acme", now=system.clock(), cursor=cursor)
    with pytest.raises(InvalidCursor):
        system.history.user_history("acme", "alice", cursor=cursor)


def test_out_of_range_limits_are_refused(system: LedgerSystem) -> None:
    from ledger.aggregates import InvalidInput

    for limit in (0, 501):
        with pytest.raises(InvalidInput, match="limit"):
            system.active.list_sessions("acme", now=system.clock(), limit=limit)


def test_a_cursor_from_another_tenant_reveals_nothing(
    system: LedgerSystem, clock: FakeClock
) -> None:
    settle(system, start(system, "s1"))
    from uuid import uuid4

    foreign = encode_cursor(10**18, uuid4())
    page = system.active.list_sessions("other", now=clock(), cursor=foreign)
    assert page.sessions == []


def test_counts_per_hour_by_application_and_reason_follow_starts_and_ends(
    system: LedgerSystem, clock: FakeClock
) -> None:
    from ledger.projections.session_counts import ENDED, HOUR_US, STARTED, SessionCountsView

    counts = system.views["session_counts"]
    assert isinstance(counts, SessionCountsView)
    hour0 = int(clock().timestamp()) * 1_000_000 // HOUR_US
    mail, crm, day = {"id": "mail", "name": "Mail"}, {"id": "crm", "name": "CRM"}, 86_400
    start(system, "a", idle_timeout_s=day, application=mail)
    start(system, "b", user="bob", idle_timeout_s=day, application=mail)
    start(system, "c", idle_timeout_s=day, application=crm)
    start(system, "other", tenant="globex", idle_timeout_s=day, application=mail)
    clock.advance(seconds=3600)
    start(system, "d", idle_timeout_s=day)
    system.ledger.terminate_session(tenant="acme", session_id="a", reason="logout", actor="idp")
    out = system.ledger.terminate_session(
        tenant="acme", session_id="b", reason="admin_terminated", actor="ann"
    )
    settle(system, out.position)
    started = counts.hourly("acme", STARTED, since=hour0, until=hour0 + 2)
    assert [(c.hour - hour0, c.label, c.n) for c in started] == [
        (0, "crm", 1),
        (0, "mail", 2),
        (1, "", 1),
    ]
    ended = counts.hourly("acme", ENDED, since=hour0, until=hour0 + 2)
    assert [(c.hour - hour0, c.label, c.n) for c in ended] == [
        (1, "admin_terminated", 1),
        (1, "logout", 1),
    ]
    assert counts.balance_before("acme", hour0) == 0
    assert counts.balance_before("acme", hour0 + 1) == 3
    assert counts.balance_before("acme", hour0 + 2) == 2  # a, b ended; c, d open
    assert counts.balance_before("globex", hour0 + 2) == 1
    assert counts.application_names("acme", ["mail", "crm", "none"]) == {
        "mail": "Mail",
        "crm": "CRM",
    }
    assert counts.hourly("acme", STARTED, since=hour0 + 2, until=hour0 + 3) == []
