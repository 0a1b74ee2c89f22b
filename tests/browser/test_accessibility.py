"""Accessibility of the pages, checked by axe-core in headless Chromium (WCAG 2.1 A and AA).

axe-core comes inside the `axe-playwright-python` wheel; without that package the test
skips and says so (fails with `LEDGER_TEST_REQUIRE_BROWSER=1`). The check runs in a context
that lets Playwright inject axe's script past the pages' Content-Security-Policy (the pages
themselves run no inline script).
Contrast, labels, names, landmarks and ARIA use are checked on every page and on the
confirmation dialog, at desktop and phone width.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import LedgerServer, require_module, sign_in

pytestmark = pytest.mark.browser

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script."""
    axe = require_module(
        "axe_playwright_python", why="axe-core ships in `axe-playwright-python` (pip)"
    )
    return (Path(axe.__file__).parent / "axe.min.js").read_text()


@pytest.fixture
def open_page(browser: Any, user_agent: str) -> Iterator[Any]:
    """A page whose context lets axe's script in."""
    context = browser.new_context(bypass_csp=True, user_agent=user_agent, locale="en-GB")
    context.set_default_timeout(5000)
    yield context.new_page()
    context.close()


def violations(page: Any, axe_source: str) -> list[str]:
    """What axe finds on the page as it is now, one line per rule and element."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


def test_every_page_and_state_passes_axe(
    ledger_server: LedgerServer, open_page: Any, axe_source: str
) -> None:
    server, page = ledger_server, open_page
    server.start("xena", "xena-1", ua="firefox-windows", ip="203.0.113.99", app=("mail", "Mail"))
    server.start("xena", "xena-2", ua="safari-iphone", ip="198.51.100.99", app=("chat", "Chat"))
    server.end("xena-2", "browser_closed")
    server.start("xena", "xena-3", ua="chrome-mac", ip="192.0.2.99", app=("crm", "CRM"))
    found: dict[str, list[str]] = {}

    page.goto(server.url + "/signin?next=/console/users/xena/sessions")
    page.get_by_label("User id").wait_for()
    found["sign-in"] = violations(page, axe_source)

    sign_in(
        page,
        server,
        user="yann",
        scopes=("sessions:me",),
        next_path="/myaccount/sessions",
        start_session=False,
    )
    page.locator("#state").get_by_text("You have no open sessions").wait_for()
    found["my account, empty"] = violations(page, axe_source)
    page.goto(server.url + "/console/users/xena/sessions")
    page.get_by_role("heading", name="You cannot use the console").wait_for()
    found["console, forbidden"] = violations(page, axe_source)

    sign_in(page, server, user="xena", scopes=("sessions:me",), next_path="/myaccount/sessions")
    page.locator("#sessions > li").nth(2).wait_for()
    found["my account"] = violations(page, axe_source)
    page.locator("#sessions button").first.click()
    page.get_by_role("dialog").wait_for()
    found["my account, confirmation"] = violations(page, axe_source)
    page.get_by_role("button", name="Cancel").click()
    page.set_viewport_size({"width": 390, "height": 844})
    found["my account, phone"] = violations(page, axe_source)
    page.set_viewport_size({"width": 1280, "height": 900})

    admin = ("sessions:read", "sessions:terminate", "sessions:audit")
    sign_in(
        page,
        server,
        user="zack",
        scopes=admin,
        next_path="/console/users/xena/sessions",
        start_session=False,
    )
    page.locator("#active-list > li").nth(1).wait_for()
    page.locator("#users li").first.wait_for()
    found["console"] = violations(page, axe_source)
    page.get_by_role("tab", name="History").click()
    page.locator("#history-list > li").nth(2).wait_for()
    found["console, history"] = violations(page, axe_source)

    page.goto(server.url + "/console")
    page.locator("#rows > tr").first.wait_for()
    page.locator("#c-apps svg").wait_for()
    found["console, overview"] = violations(page, axe_source)
    page.locator("#rows input.pick").first.check()
    page.get_by_role("button", name="Terminate selected (1)").click()
    page.get_by_role("dialog").wait_for()
    found["console, overview, confirmation"] = violations(page, axe_source)
    page.get_by_role("button", name="Cancel").click()
    page.set_viewport_size({"width": 390, "height": 844})
    found["console, overview, phone"] = violations(page, axe_source)
    page.set_viewport_size({"width": 1280, "height": 900})

    assert {name: v for name, v in found.items() if v} == {}

    # The check can fail: an unlabelled field is caught.
    page.set_content('<html lang="en"><title>t</title><main><input type="text"></main></html>')
    assert any(line.startswith("label ") for line in violations(page, axe_source))
