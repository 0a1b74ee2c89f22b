"""The console overview API: filters of the tenant list, counts, CSV export, the charts numbers.

Runs on SQLite and PostgreSQL. The charts' numbers are compared with counts made here from
the event log itself (decoded with the application's mapper), not from the view they come
from. Bad query parameters answer 422 problems.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from ledger.bootstrap import LedgerSystem
from ledger.projections import session_search
from tests.api.conftest import Minter, ids, start
from tests.conftest import FakeClock

READ = "sessions:read"
DAY = {"idle_timeout_s": 86_400, "max_lifetime_s": 172_800}
WEEK = {"idle_timeout_s": 604_800, "max_lifetime_s": 604_800}


def seed(client: TestClient, hs: Minter, clock: FakeClock) -> None:
    """a1, a2, b1, c1 a second apart in the default tenant; g1 in another."""
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "a1", "alice", ip="203.0.113.5", application={"id": "mail"}, **DAY)
    clock.advance(seconds=1)
    start(client, ingest, "a2", "alice", ip="198.51.100.7", application={"id": "crm"}, **DAY)
    clock.advance(seconds=1)
    start(client, ingest, "b1", "albert", ip="203.0.113.200", application={"id": "mail"}, **DAY)
    clock.advance(seconds=1)
    start(client, ingest, "c1", "carol", ip="2001:db8::1", **DAY)
    other = hs.auth("idp", "sessions:ingest", tenant="globex")
    start(client, other, "g1", "alice", ip="203.0.113.9", **DAY)


def test_the_list_filters_by_user_prefix_network_and_sign_in_time_in_both_orders(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    seed(client, hs, clock)
    admin = hs.auth("root", READ)

    def listed(**params: str) -> list[str]:
        response = client.get("/v1/sessions", params=params, headers=admin)
        assert response.status_code == 200, response.text
        return ids(response)

    assert listed(user_prefix="al") == ["b1", "a2", "a1"]
    assert listed(network="203.0.113.0/24") == ["b1", "a1"]
    assert listed(network="203.0.113.128/25", user_prefix="al") == ["b1"]
    assert listed(network="2001:db8::/32") == ["c1"]
    assert listed(network="198.51.100.7") == ["a2"]
    assert listed(order="oldest") == ["a1", "a2", "b1", "c1"]
    assert listed(started_after=(clock() - timedelta(seconds=1)).isoformat()) == ["c1", "b1"]
    later = (clock() + timedelta(seconds=1)).isoformat()
    assert listed(started_after=later) == []


def test_a_network_filter_pages_without_gaps_or_repeats(
    client: TestClient, hs: Minter, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_search, "CHUNK", 2)  # several chunks per page
    ingest = hs.auth("idp", "sessions:ingest")
    for i in range(9):
        ip = f"10.0.0.{i}" if i % 3 else f"192.0.2.{i}"
        start(client, ingest, f"s{i}", f"u{i}", ip=ip, **DAY)
        clock.advance(seconds=1)
    admin = hs.auth("root", READ)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"network": "10.0.0.0/8", "limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = client.get("/v1/sessions", params=params, headers=admin).json()
        seen += [s["id"] for s in page["sessions"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["s8", "s7", "s5", "s4", "s2", "s1"]


def test_the_summary_counts_sessions_and_users_of_the_tenant(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    seed(client, hs, clock)
    admin = hs.auth("root", READ)
    assert client.get("/v1/sessions/summary", headers=admin).json() == {
        "open_sessions": 4,
        "users": 3,
    }
    narrowed = client.get("/v1/sessions/summary?network=203.0.113.0/24", headers=admin).json()
    assert narrowed == {"open_sessions": 2, "users": 2}
    other = client.get("/v1/sessions/summary", headers=hs.auth("root", READ, tenant="globex"))
    assert other.json() == {"open_sessions": 1, "users": 1}


def test_the_export_is_csv_of_the_filtered_sessions(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    seed(client, hs, clock)
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "x1", "=cmd", user_agent="@evil", **DAY)
    response = client.get("/v1/sessions/export?user_prefix=al", headers=hs.auth("root", READ))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["session_id"], r["user_id"], r["ip"]) for r in rows] == [
        ("b1", "albert", "203.0.113.200"),
        ("a2", "alice", "198.51.100.7"),
        ("a1", "alice", "203.0.113.5"),
    ]
    assert rows[0]["applications"] == "mail"
    everything = client.get("/v1/sessions/export", headers=hs.auth("root", READ)).text
    assert "'=cmd" in everything and "'@evil" in everything  # no formula reaches a sheet


BAD_QUERIES = [
    ("/v1/sessions", "network=10.0.0.0/33"),
    ("/v1/sessions", "network=not-an-address"),
    ("/v1/sessions", "user_prefix=%01x"),
    ("/v1/sessions", "order=sideways"),
    ("/v1/sessions", "started_after=yesterday"),
    ("/v1/sessions/summary", "network=1.2.3"),
    ("/v1/sessions/export", "user_prefix="),
    ("/v1/stats/open-sessions", "window=1y"),
    ("/v1/stats/applications", "limit=0"),
    ("/v1/stats/applications", "limit=1&limit=2"),
    ("/web/charts/open-sessions.svg", "window=7d"),
]
OVERVIEW_READS = [
    "/v1/sessions/summary",
    "/v1/sessions/export",
    "/v1/stats/open-sessions",
    "/v1/stats/sign-ins",
    "/v1/stats/terminations",
    "/v1/stats/applications",
    "/web/charts/sign-ins.svg",
]


def test_bad_query_parameters_are_422_problems(client: TestClient, hs: Minter) -> None:
    admin = hs.auth("root", READ)
    for path, query in BAD_QUERIES:
        response = client.get(f"{path}?{query}", headers=admin)
        assert response.status_code == 422, (path, query, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_the_overview_needs_sessions_read(client: TestClient, hs: Minter) -> None:
    for path in OVERVIEW_READS:
        response = client.get(path, headers=hs.auth("alice", "sessions:me"))
        assert response.status_code == 403, path
        assert "sessions:read" in response.json()["detail"]


def log_counts(
    system: LedgerSystem, tenant: str
) -> tuple[Counter[Any], Counter[Any], Counter[Any]]:
    """Starts per hour, ends per (day, reason), starts per application: from the log itself."""
    notifications = system.ledger.recorder.select_notifications(start=1, limit=100_000)
    tenants: dict[Any, str] = {}
    starts: Counter[Any] = Counter()
    ends: Counter[Any] = Counter()
    apps: Counter[Any] = Counter()
    for n in notifications:
        event: Any = system.ledger.mapper.to_domain_event(n)
        name = type(event).__qualname__
        if name == "Session.Started":
            tenants[event.originator_id] = event.tenant
            if event.tenant == tenant:
                starts[event.at.replace(minute=0, second=0, microsecond=0)] += 1
                if event.application:
                    apps[event.application["id"]] += 1
        elif name == "Session.Terminated" and tenants[event.originator_id] == tenant:
            ends[(event.at.date().isoformat(), event.reason)] += 1
    return starts, ends, apps


def test_the_charts_numbers_equal_counts_made_from_the_log(
    client: TestClient, hs: Minter, clock: FakeClock, api_system: LedgerSystem
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    admin = hs.auth("root", "sessions:read sessions:terminate")
    clock.now = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    for i in range(6):
        app = {"id": ["mail", "crm", "mail"][i % 3], "name": "Mail" if i % 3 != 1 else "CRM"}
        start(client, ingest, f"s{i}", f"u{i % 2}", application=app, **WEEK)
        clock.advance(hours=5)
        if i % 2:
            ended = client.delete(f"/v1/users/u{(i - 1) % 2}/sessions/s{i - 1}", headers=admin)
            assert ended.status_code == 204
    client.post("/v1/sessions/s5/terminate", json={"reason": "logout"}, headers=ingest)
    start(client, hs.auth("idp", "sessions:ingest", tenant="globex"), "g", "x", **DAY)
    starts, ends, apps = log_counts(api_system, "acme")

    hours = client.get("/v1/stats/sign-ins", headers=admin).json()["hours"]
    assert len(hours) == 24
    assert {h["hour"]: h["sign_ins"] for h in hours if h["sign_ins"]} == {
        k.isoformat().replace("+00:00", "Z"): v
        for k, v in starts.items()
        if k > clock() - timedelta(hours=24)
    }
    days = client.get("/v1/stats/terminations", headers=admin).json()
    assert len(days["days"]) == 30
    assert {(d["day"], r): n for d in days["days"] for r, n in d["reasons"].items() if n} == dict(
        ends
    )
    top = client.get("/v1/stats/applications", headers=admin).json()["applications"]
    assert [(a["id"], a["sign_ins"]) for a in top] == apps.most_common()
    assert top[0]["name"] == "Mail"
    points = client.get("/v1/stats/open-sessions?window=30d", headers=admin).json()["points"]
    assert len(points) == 30
    assert points[-1]["open"] == sum(starts.values()) - sum(ends.values())
    assert (
        points[-1]["open"]
        == client.get("/v1/sessions/summary", headers=admin).json()["open_sessions"]
    )
    day = client.get("/v1/stats/open-sessions?window=24h", headers=admin).json()["points"]
    assert len(day) == 24 and day[-1]["open"] == points[-1]["open"]


def test_each_chart_is_an_svg_image_with_a_title_and_escaped_text(
    client: TestClient, hs: Minter
) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "s1", "u", application={"id": "x", "name": "<b>&"}, **DAY)
    client.post("/v1/sessions/s1/terminate", json={"reason": "logout"}, headers=ingest)
    ns = "{http://www.w3.org/2000/svg}"
    for path in [
        "open-sessions.svg",
        "open-sessions.svg?window=30d",
        "sign-ins.svg",
        "terminations.svg",
        "applications.svg",
    ]:
        response = client.get(f"/web/charts/{path}", headers=hs.auth("root", READ))
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("image/svg+xml")
        svg = ElementTree.fromstring(response.text)  # well-formed: the name was escaped
        assert svg.get("role") == "img"
        assert svg.find(f"{ns}title") is not None and svg.find(f"{ns}desc") is not None
