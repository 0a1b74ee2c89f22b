"""End to end in headless Chromium: the console's overview, its charts, and live updates.

One server and one browser for the whole module (the conftest's session fixtures); the
tenant of each test is its own, so the overview's tenant-wide numbers are the test's alone.
The charts' numbers are compared with counts made from the log by `ledger-replay export`
(which reads the event log alone). Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LedgerServer
from tests.user_agents import UA

pytestmark = pytest.mark.browser

Shot = Callable[..., Path]
ADMIN = "sessions:read sessions:terminate sessions:audit"


def open_as(page: Any, server: LedgerServer, path: str, sub: str, scope: str, tenant: str) -> None:
    """Open `path` signed in with a token (kept where the pages keep it)."""
    token = server.mint_for(sub, scope, tenant)
    page.goto(server.url + "/signin")
    value = json.dumps({"token": token, "via": "dev"})
    page.evaluate("v => sessionStorage.setItem('ledger.auth', v)", value)
    page.goto(server.url + path)


def seed(server: LedgerServer, tenant: str, n: int) -> None:
    """`n` sessions of users u00.. in `tenant`, a minute apart, on three networks and apps."""
    apps = [("mail", "Mail"), ("crm", "CRM"), ("wiki", "Wiki")]
    agents = list(UA)
    for i in range(n):
        server.start_in(
            tenant,
            f"u{i:02d}",
            f"{tenant}-s{i:02d}",
            ua=agents[i % len(agents)],
            ip=f"10.{i % 3}.0.{i}",
            app=apps[i % 3],
            minutes_ago=n - i,
        )


def test_the_overview_lists_filters_pages_and_terminates_a_selection(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server, tenant = ledger_server, "ov-list"
    seed(server, tenant, 30)
    open_as(page, server, "/console", "ann", ADMIN, tenant)
    rows = page.locator("#rows > tr")
    expect(rows).to_have_count(25)
    expect(page.locator("#counts")).to_have_text("30 open sessions of 30 users in this tenant.")
    expect(rows.first).to_contain_text("u29")
    page.locator("#c-apps svg").wait_for()
    shot(page, "console-overview")

    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text("u00")
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(25)
    page.get_by_role("button", name=re.compile("^Signed in")).click()
    expect(rows.first).to_contain_text("u00")
    expect(page.locator("#th-started")).to_have_attribute("aria-sort", "ascending")

    page.get_by_label("IP address or range").fill("10.1.0.0/16")
    page.get_by_label("User id starts with").fill("u1")
    page.get_by_role("button", name="Apply filters").click()
    expect(rows).to_have_count(4)  # u10, u13, u16, u19: in 10.1.0.0/16 and starting with u1
    expect(page.locator("#counts")).to_have_text("4 open sessions of 4 users match the filters.")
    expect(rows.first).to_contain_text("u10")  # still oldest first

    for user in ("u13", "u16"):
        rows.filter(has_text=user).get_by_role("checkbox").check()
    page.get_by_role("button", name="Terminate selected (2)").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Terminate 2 sessions?")
    dialog.get_by_role("button", name="Terminate 2 sessions").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#notice")).to_contain_text("2 sessions terminated")
    ended = {
        s["id"]: s for s in server.history_in(tenant, "u13") + server.history_in(tenant, "u16")
    }
    assert {(s["termination_reason"], s["terminated_by"]) for s in ended.values()} == {
        ("admin_terminated", "ann")
    }


def log_counts(server: LedgerServer, tenant: str) -> tuple[Counter[str], Counter[str]]:
    """Sign-ins per application and ends per reason, from `ledger-replay export` of the log."""
    out = subprocess.run(
        [sys.executable, "-c", "from replay_tools.cli import main; main()", "export",
         "--tenant", tenant, "--format", "jsonl"],
        env=server.env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    apps: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for line in out.splitlines():
        event = json.loads(line)
        if event["event"] == "Session.Started" and event["data"].get("application"):
            apps[event["data"]["application"]["name"]] += 1
        elif event["event"] == "Session.Terminated":
            reasons[event["data"]["reason"]] += 1
    return apps, reasons


def test_the_charts_numbers_equal_counts_from_the_log(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server, tenant = ledger_server, "ov-charts"
    seed(server, tenant, 9)
    server.end(f"{tenant}-s01", "logout", tenant=tenant)
    server.end(f"{tenant}-s02", "browser_closed", tenant=tenant)
    server.end(f"{tenant}-s04", "logout", tenant=tenant)
    open_as(page, server, "/console", "ann", ADMIN, tenant)
    page.locator("#t-apps tbody tr").first.wait_for()
    apps, reasons = log_counts(server, tenant)
    shown_apps = {
        r.locator("th").inner_text(): int(r.locator("td").inner_text())
        for r in page.locator("#t-apps tbody tr").all()
    }
    assert shown_apps == dict(apps)
    head = [c.inner_text() for c in page.locator("#t-term thead th").all()]
    totals: Counter[str] = Counter()
    for r in page.locator("#t-term tbody tr").all():
        cells = [int(c.inner_text()) for c in r.locator("td").all()]
        for name, n in zip(head[1:-1], cells[:-1], strict=True):
            totals[name] += n
    assert {k: v for k, v in totals.items() if v} == {
        _label(page, r): n for r, n in reasons.items()
    }
    sign_ins = sum(int(c.inner_text()) for c in page.locator("#t-sign tbody td").all())
    assert sign_ins == sum(apps.values())
    last_open = page.locator("#t-open tbody tr").last.locator("td").inner_text()
    assert int(last_open) == 9 - sum(reasons.values())
    for chart in ("open", "term", "sign", "apps"):
        expect(page.locator(f"#c-{chart} svg title")).to_have_count(1)
    page.locator("#c-term svg").scroll_into_view_if_needed()
    shot(page, "console-charts")


def _label(page: Any, reason: str) -> str:
    """The page's own label of a termination reason (from /web/vocabulary.js)."""
    return str(
        page.evaluate("r => import('/web/vocabulary.js').then(m => m.REASONS[r] || r)", reason)
    )


def test_sessions_appear_and_disappear_live_on_the_console_and_in_my_account(
    ledger_server: LedgerServer, browser: Any, user_agent: str, shot: Shot
) -> None:
    server, tenant = ledger_server, "ov-live"
    seed(server, tenant, 2)
    contexts = [browser.new_context(user_agent=user_agent, locale="en-GB") for _ in range(2)]
    console, mine = (c.new_page() for c in contexts)
    try:
        open_as(console, server, "/console", "ann", ADMIN, tenant)
        open_as(mine, server, "/myaccount/sessions", "u00", "sessions:me", tenant)
        expect(console.locator("#rows > tr")).to_have_count(2)
        expect(mine.locator("#sessions > li")).to_have_count(1)
        console.evaluate("window.stillTheSamePage = true")
        mine.evaluate("window.stillTheSamePage = true")

        server.start_in(tenant, "u00", f"{tenant}-new", ua="chrome-mac", ip="192.0.2.5",
                        app=("mail", "Mail"))  # fmt: skip
        expect(console.locator("#rows > tr")).to_have_count(3, timeout=3000)
        expect(console.locator("#rows > tr").first).to_contain_text("192.0.2.5")
        expect(mine.locator("#sessions > li")).to_have_count(2, timeout=3000)
        shot(console, "console-overview-live", full_page=False)

        server.end(f"{tenant}-s00", "logout", tenant=tenant)
        expect(console.locator("#rows > tr")).to_have_count(2, timeout=3000)
        expect(mine.locator("#sessions > li")).to_have_count(1, timeout=3000)
        expect(console.locator("#counts")).to_contain_text("2 open sessions of 2 users")
        assert console.evaluate("window.stillTheSamePage") is True
        assert mine.evaluate("window.stillTheSamePage") is True
    finally:
        for context in contexts:
            context.close()


def test_the_overview_fits_a_phone_and_works_by_keyboard(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server, tenant = ledger_server, "ov-phone"
    seed(server, tenant, 3)
    page.set_viewport_size({"width": 390, "height": 844})
    open_as(page, server, "/console", "ann", ADMIN, tenant)
    expect(page.locator("#rows > tr")).to_have_count(3)
    page.locator("#c-apps svg").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the overview scrolls sideways by {overflow}px at phone width"
    shot(page, "console-overview-phone")
    box = page.locator("#rows > tr").first.get_by_role("checkbox")
    box.focus()
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Terminate selected (1)")).to_be_enabled()
    page.get_by_role("button", name="Terminate selected (1)").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#rows > tr")).to_have_count(3)


def test_the_receivers_page_shows_each_receiver_and_pauses_and_resumes_it(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server, tenant = ledger_server, "ov-receivers"
    owner = {"Authorization": f"Bearer {server.mint_for('my-app', 'webhooks:manage', tenant)}"}
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": ["session.terminated"]}
    created = server.http.post("/v1/webhooks", json=body, headers=owner)
    assert created.status_code == 201, created.text
    hook = created.json()["id"]
    open_as(page, server, "/console/receivers", "ann", ADMIN, tenant)
    row = page.locator(f'tr[data-receiver="{hook}"]')
    expect(row).to_contain_text("Webhook")
    expect(row).to_contain_text("enabled")
    row.get_by_role("button", name=f"Pause {hook}").click()
    expect(row).to_contain_text("paused (paused by ann)")
    expect(page.locator("#notice")).to_contain_text("its events are held")
    seed(server, tenant, 1)
    server.end(f"{tenant}-s00", "logout", tenant=tenant)
    page.get_by_role("button", name="Refresh").click()
    expect(row.locator("td").nth(3)).to_have_text("1")  # held while paused
    row.get_by_role("button", name=f"Resume {hook}").click()
    expect(row).to_contain_text("enabled")
    expect(row).to_contain_text("ConnectError", timeout=8000)  # the page refreshes itself
    shot(page, "console-receivers")
    row.get_by_role("button", name=f"Redeliver {hook}").click()
    page.get_by_role("dialog").get_by_role("button", name="Redeliver").click()
    expect(page.locator("#notice")).to_contain_text("will be sent again")
