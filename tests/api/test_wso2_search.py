"""`GET /t/{tenant}/api/users/v1/sessions`: WSO2's session search served by the ledger.

Every documented filter attribute and operator (session.yaml `filterQueryParam`), the
refusals (400 with WSO2's body), newest-first order, the default limit of 20, the
`previous`/`next` links, and paging by `since`/`until` without gaps or repeats while
sessions start and end between pages, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter, start
from tests.conftest import FakeClock

BASE = "/t/acme/api/users/v1"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/90.0.4430.93"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:15.0) Gecko/20100101 Firefox/15.0.1"


def search(client: TestClient, hs: Minter, query: str = "") -> Any:
    answer = client.get(
        f"{BASE}/sessions?{query}", headers=hs.auth("root", "internal_session_view")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def found(client: TestClient, hs: Minter, text: str) -> list[str]:
    return [s["id"] for s in search(client, hs, "filter=" + quote(text))["Resources"]]


@pytest.fixture
def three(client: TestClient, hs: Minter, clock: FakeClock) -> dict[str, str]:
    """Three sessions a second apart; their login times in ms, by id."""
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "sess-a1", user_id="alice", ip="127.0.0.1", user_agent=FIREFOX,
          application={"id": "4", "name": "travelocity-requestpath"})  # fmt: skip
    clock.advance(seconds=1)
    start(client, ingest, "sess-b1", user_id="bob", ip="2001:db8::1", user_agent=CHROME,
          application={"id": "5", "name": "avis-basic"})  # fmt: skip
    clock.advance(seconds=1)
    start(client, ingest, "other-c1", user_id="carol", ip="10.0.0.9")
    clock.advance(seconds=70)
    client.post("/v1/sessions/sess-a1/activity", json={}, headers=ingest)
    listed = search(client, hs)["Resources"]
    return {s["id"]: s["loginTime"] for s in listed} | {
        s["id"] + ":last": s["lastAccessTime"] for s in listed
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("loginId eq alice", ["sess-a1"]),
        ("LOGINID EQ ALICE", ["sess-a1"]),
        ("loginId sw ca", ["other-c1"]),
        ("loginId ew ob", ["sess-b1"]),
        ("loginId co L", ["other-c1", "sess-a1"]),
        ("sessionId eq sess-b1", ["sess-b1"]),
        ("sessionId sw SESS-", ["sess-b1", "sess-a1"]),
        ("sessionId ew -c1", ["other-c1"]),
        ("sessionId co s-a", ["sess-a1"]),
        ("appName eq avis-basic", ["sess-b1"]),
        ("appName sw Travel", ["sess-a1"]),
        ("appName ew -BASIC", ["sess-b1"]),
        ("appName co i", ["sess-b1", "sess-a1"]),
        ("userAgent eq " + '"' + FIREFOX + '"', ["sess-a1"]),
        ('userAgent sw "mozilla/5.0 (windows"', ["sess-b1"]),
        ("userAgent ew Firefox/15.0.1", ["sess-a1"]),
        ("userAgent co chrome", ["sess-b1"]),
        ("ipAddress eq 127.0.0.1", ["sess-a1"]),
        ("ipAddress eq 2001:DB8:0::1", ["sess-b1"]),
        ("loginId co l and userAgent co firefox", ["sess-a1"]),
        ("loginId co l AND sessionId sw other", ["other-c1"]),
    ],
)
def test_every_documented_text_attribute_and_operator_filters(
    client: TestClient, hs: Minter, three: dict[str, str], text: str, expected: list[str]
) -> None:
    assert found(client, hs, text) == expected


def test_login_and_last_access_times_filter_with_le_and_ge(
    client: TestClient, hs: Minter, three: dict[str, str]
) -> None:
    b = three["sess-b1"]
    assert found(client, hs, f"loginTime ge {b}") == ["other-c1", "sess-b1"]
    assert found(client, hs, f"loginTime le {b}") == ["sess-b1", "sess-a1"]
    assert found(client, hs, f"loginTime ge {b} and loginTime le {b}") == ["sess-b1"]
    assert found(client, hs, f"loginTime ge {int(b) + 1} and loginTime le {b}") == []
    a_last = three["sess-a1:last"]
    assert found(client, hs, f"lastAccessTime ge {a_last}") == ["sess-a1"]
    assert found(client, hs, f"lastAccessTime le {int(a_last) - 1}") == ["other-c1", "sess-b1"]


@pytest.mark.parametrize(
    "text",
    [
        "", "loginId", "loginId eq", "userName eq john", "loginId gt a", "ipAddress co 127",
        "loginTime eq 1", "loginTime ge soon", "lastAccessTime le -5", "loginId eq a or b eq c",
        "loginId eq a and", "loginId eq a and and", "(loginId eq a)", 'userAgent co "open',
        'loginId eq ""', "not loginId eq a", 'loginId eq "a\\x"', "loginId eq a sessionId eq b",
    ],
)  # fmt: skip
def test_anything_else_in_a_filter_is_a_wso2_400(client: TestClient, hs: Minter, text: str) -> None:
    viewer = hs.auth("root", "internal_session_view")
    answer = client.get(f"{BASE}/sessions?filter={quote(text)}", headers=viewer)
    assert answer.status_code == 400, text
    body = answer.json()
    assert (body["code"], body["message"]) == ("USM-10011", "Invalid data")
    assert "filter" in body["description"]


def test_the_search_is_newest_first_twenty_by_default_with_links(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    for n in range(25):
        clock.advance(milliseconds=3)
        start(client, ingest, f"s{n:02d}", user_id=f"u{n % 3}")
    first = search(client, hs)
    assert [s["id"] for s in first["Resources"]] == [f"s{n:02d}" for n in range(24, 4, -1)]
    assert "previous" not in first
    last_ms = first["Resources"][-1]["loginTime"]
    assert first["next"] == f"sessions?limit=20&until={last_ms}"
    second = search(client, hs, f"limit=20&until={last_ms}")
    assert [s["id"] for s in second["Resources"]] == [f"s{n:02d}" for n in range(4, -1, -1)]
    assert "next" not in second
    assert second["previous"] == f"sessions?limit=20&since={second['Resources'][0]['loginTime']}"
    back = search(client, hs, second["previous"].split("?", 1)[1])
    assert back["Resources"] == first["Resources"]
    filtered = search(client, hs, "limit=2&filter=" + quote("loginId eq u1"))
    assert filtered["next"].startswith("sessions?limit=2&filter=loginId+eq+u1&until=")


def follow(client: TestClient, hs: Minter, link: str) -> Any:
    """The page a relative link names."""
    query = parse_qs(urlsplit(link).query)
    assert set(query) <= {"limit", "filter", "since", "until"}
    return search(client, hs, urlsplit(link).query)


def test_paging_has_no_gaps_or_repeats_while_sessions_start_and_end(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    """40 sessions, three per millisecond; pages of 4 cut inside milliseconds. Between pages a
    new session starts and an unseen one ends. Walking `next` and then `previous` shows every
    session open throughout exactly once, newest first, and never one before its turn."""
    ingest = hs.auth("idp", "sessions:ingest")
    admin = hs.auth("root", "internal_session_delete")
    for n in range(40):
        if n % 3 == 0:
            clock.advance(milliseconds=1)
        start(client, ingest, f"s{n:02d}", user_id=f"u{n % 5}")
    ended: set[str] = set()
    page = search(client, hs, "limit=4")
    pages = [page]
    extra = 0
    while "next" in page:
        extra += 1
        clock.advance(milliseconds=1)
        start(client, ingest, f"new{extra}", user_id="u0")
        seen = {s["id"] for p in pages for s in p["Resources"]}
        unseen = sorted({f"s{n:02d}" for n in range(40)} - seen - ended)
        if unseen:
            victim = unseen[len(unseen) // 2]
            user = f"u{int(victim[1:]) % 5}"
            assert (
                client.delete(f"{BASE}/{user}/sessions/{victim}", headers=admin).status_code == 204
            )
            ended.add(victim)
        page = follow(client, hs, page["next"])
        pages.append(page)
    walked = [s for p in pages for s in p["Resources"]]
    ids = [s["id"] for s in walked]
    assert len(ids) == len(set(ids)), "a session was shown twice"
    throughout = {f"s{n:02d}" for n in range(40)} - ended
    assert throughout <= set(ids), f"skipped: {sorted(throughout - set(ids))}"
    assert not set(ids) & ended
    times = [int(s["loginTime"]) for s in walked]
    assert times == sorted(times, reverse=True)
    assert all(len(p["Resources"]) <= 4 for p in pages)
    back = [pages[-1]]
    while "previous" in back[-1]:
        back.append(follow(client, hs, back[-1]["previous"]))
    again = [s["id"] for p in reversed(back) for s in p["Resources"]]
    assert len(again) == len(set(again))
    assert throughout <= set(again)
    assert {f"new{n}" for n in range(1, extra + 1)} <= set(again)


@pytest.mark.parametrize(
    "query",
    ["until=99999999999999999999", "since=99999999999999999999", "since=-99999999999999999999",
     "until=-5", "until=0", "since=5&until=3", "limit=-3", "limit=100000",
     "filter=" + quote("loginTime ge 999999999999999999"),
     "filter=" + quote("loginTime le 999999999999999999")],
)  # fmt: skip
def test_any_integer_bounds_and_limits_answer_200(
    client: TestClient, hs: Minter, three: dict[str, str], query: str
) -> None:
    body = search(client, hs, query)
    expected = {"until=99999999999999999999": 3, "since=-99999999999999999999": 3,
                "limit=-3": 3, "limit=100000": 3,
                "filter=" + quote("loginTime le 999999999999999999"): 3}  # fmt: skip
    assert len(body["Resources"]) == expected.get(query, 0), query
