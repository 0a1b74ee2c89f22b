"""End to end in headless Chromium: my account's and the console's "Active sessions" pages.

Each test seeds its own users through the ingest API of a real `ledger serve --dev`, signs in
with the development sign-in form and works the pages as a person would (buttons, dialog,
keyboard); what the page shows is then checked against the API. Screenshots of each page go
to test-output/screenshots/ for review (docs/screenshots/ holds the reviewed ones).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN_SCOPES, LedgerServer, sign_in

pytestmark = pytest.mark.browser

Shot = Callable[..., Path]
ADMIN = ("sessions:read", "sessions:terminate", "sessions:audit")


def card(page: Any, device: str, within: str = "main") -> Any:
    """The session card (inside `within`) whose heading names `device`."""
    heading = page.get_by_role("heading", name=device)
    return page.locator(f"{within} li.session").filter(has=heading)


def store_token(page: Any, server: LedgerServer, token: str) -> None:
    """Put a token where the pages keep it, as a sign-in would."""
    page.goto(server.url + "/signin")
    value = json.dumps({"token": token, "via": "dev"})
    page.evaluate("v => sessionStorage.setItem('ledger.auth', v)", value)


def test_a_user_terminates_one_session_then_all_others_without_a_reload(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server = ledger_server
    server.start(
        "alice",
        "alice-laptop",
        ua="firefox-windows",
        ip="203.0.113.10",
        app=("mail", "Mail"),
        minutes_ago=180,
    )
    server.start(
        "alice",
        "alice-phone",
        ua="safari-iphone",
        ip="198.51.100.7",
        app=("calendar", "Calendar"),
        minutes_ago=60,
    )
    server.start(
        "alice", "alice-work", ua="chrome-mac", ip="192.0.2.44", app=("crm", "CRM"), minutes_ago=20
    )

    page.goto(server.url + "/signin?next=/myaccount/sessions")
    expect(page.get_by_role("heading", name="Development sign-in")).to_be_visible()
    shot(page, "signin")
    sign_in(page, server, user="alice", scopes=("sessions:me",), next_path="/myaccount/sessions")

    cards = page.locator("#sessions > li")
    expect(cards).to_have_count(4)
    this = page.locator("li.session").filter(has_text="This session")
    expect(this).to_have_count(1)
    expect(this).to_contain_text("Chrome on Linux")
    expect(this.get_by_role("button")).to_have_count(0)
    expect(cards.first).to_contain_text("This session")
    laptop = card(page, "Firefox on Windows")
    expect(laptop).to_contain_text("203.0.113.10")
    expect(laptop).to_contain_text("Mail")
    expect(card(page, "Mobile Safari on iPhone")).to_contain_text("Calendar")
    expect(card(page, "Chrome on macOS")).to_contain_text("192.0.2.44")
    expect(page.get_by_text("Signed in as")).to_contain_text("alice")
    shot(page, "myaccount-sessions")

    page.evaluate("window.stillTheSamePage = true")
    laptop.get_by_role("button", name=re.compile("^Terminate")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Terminate this session?")
    expect(dialog).to_contain_text("Firefox on Windows, 203.0.113.10")
    shot(page, "myaccount-confirm", full_page=False)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(cards).to_have_count(4)

    laptop.get_by_role("button", name=re.compile("^Terminate")).click()
    dialog.get_by_role("button", name="Terminate session").click()
    expect(cards).to_have_count(3)
    expect(laptop).to_have_count(0)
    expect(page.locator("#notice")).to_contain_text("Session terminated: Firefox on Windows")

    page.get_by_role("button", name="Terminate all other sessions").click()
    expect(dialog).to_contain_text("2 sessions will be signed out")
    dialog.get_by_role("button", name="Terminate all other sessions").click()
    expect(cards).to_have_count(1)
    expect(page.locator("#state")).to_contain_text("No other sessions are open")
    expect(page.get_by_role("button", name="Terminate all other sessions")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage") is True

    open_now = server.open_sessions("alice")
    assert len(open_now) == 1
    assert open_now[0]["applications"][0]["id"] == "session-ledger-web"
    ended = {s["id"]: s for s in server.history("alice") if s["status"] == "ended"}
    assert set(ended) == {"alice-laptop", "alice-phone", "alice-work"}
    assert {s["termination_reason"] for s in ended.values()} == {"user_terminated"}
    assert {s["terminated_by"] for s in ended.values()} == {"alice"}


def test_my_account_fits_a_phone_screen(ledger_server: LedgerServer, page: Any, shot: Shot) -> None:
    server = ledger_server
    server.start(
        "paula",
        "paula-laptop",
        ua="edge-windows",
        ip="2001:db8::17",
        app=("wiki", "Team wiki"),
        minutes_ago=90,
    )
    server.start(
        "paula",
        "paula-phone",
        ua="chrome-android",
        ip="198.51.100.23",
        app=("chat", "Chat"),
        minutes_ago=5,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, server, user="paula", scopes=("sessions:me",), next_path="/myaccount/sessions")
    expect(page.locator("#sessions > li")).to_have_count(3)
    expect(card(page, "Edge on Windows")).to_contain_text("2001:db8::17")
    expect(card(page, "Chrome Mobile on Android")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at phone width"
    shot(page, "myaccount-phone")

    # Keyboard only: tab to a Terminate button, open the dialog, Escape cancels it.
    button = card(page, "Edge on Windows").get_by_role("button")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(button).to_be_focused()
    expect(page.locator("#sessions > li")).to_have_count(3)


def test_an_admin_terminates_sessions_and_reads_the_reasons_in_the_history(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server = ledger_server
    server.start(
        "dave",
        "dave-laptop",
        ua="firefox-windows",
        ip="203.0.113.80",
        app=("mail", "Mail"),
        minutes_ago=240,
    )
    server.start(
        "dave",
        "dave-phone",
        ua="safari-iphone",
        ip="198.51.100.81",
        app=("calendar", "Calendar"),
        minutes_ago=120,
    )
    server.start(
        "dave",
        "dave-tablet",
        ua="chrome-android",
        ip="192.0.2.82",
        app=("crm", "CRM"),
        minutes_ago=30,
    )
    server.end("dave-tablet", "logout")
    server.start(
        "erin", "erin-desk", ua="chrome-mac", ip="192.0.2.90", app=("mail", "Mail"), minutes_ago=10
    )

    sign_in(
        page,
        server,
        user="ann",
        scopes=ADMIN,
        next_path="/console/users/dave/sessions",
        start_session=False,
    )
    expect(page.get_by_role("heading", name="Sessions of dave")).to_be_visible()
    users = page.locator("#users a")
    expect(users.filter(has_text="dave")).to_contain_text("2 open")
    expect(users.filter(has_text="erin")).to_contain_text("1 open")
    expect(users.filter(has_text="dave")).to_have_attribute("aria-current", "page")
    active = page.locator("#active-list > li")
    expect(active).to_have_count(2)
    expect(card(page, "Firefox on Windows")).to_contain_text("203.0.113.80")
    shot(page, "console-sessions")
    page.get_by_label("Find a user").fill("da")
    expect(users).to_have_count(1)
    expect(users.first).to_contain_text("dave")

    card(page, "Mobile Safari on iPhone").get_by_role(
        "button", name=re.compile("^Terminate")
    ).click()
    page.get_by_role("dialog").get_by_role("button", name="Terminate session").click()
    expect(active).to_have_count(1)
    expect(page.locator("#notice")).to_contain_text("Session terminated: Mobile Safari on iPhone")
    expect(users.first).to_contain_text("1 open")

    page.get_by_role("tab", name="History").click()
    history = page.locator("#history-list > li")
    expect(history).to_have_count(3)
    phone = card(page, "Mobile Safari on iPhone", "#panel-history")
    expect(phone).to_contain_text("Terminated by an administrator")
    expect(phone).to_contain_text("ann")
    tablet = card(page, "Chrome Mobile on Android", "#panel-history")
    expect(tablet).to_contain_text("Signed out of the application")
    expect(card(page, "Firefox on Windows", "#panel-history")).to_contain_text("Open")
    assert page.url.endswith("#history")
    shot(page, "console-history")

    # The tabs follow the keyboard (arrow keys), as ARIA tabs do.
    page.get_by_role("tab", name="History").focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Active sessions")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#panel-active")).to_be_visible()

    page.get_by_role("button", name="Terminate all sessions").click()
    page.get_by_role("dialog").get_by_role("button", name="Terminate all sessions").click()
    expect(active).to_have_count(0)
    expect(page.locator("#active-state")).to_contain_text("dave has no open sessions")
    expect(page.locator("#users-state")).to_contain_text("No user whose id starts with “da”")
    page.get_by_role("tab", name="History").click()
    expect(history).to_have_count(3)
    expect(
        page.locator("#panel-history").get_by_text("Terminated by an administrator")
    ).to_have_count(2)

    reasons = {
        s["id"]: (s["termination_reason"], s["terminated_by"]) for s in server.history("dave")
    }
    assert reasons == {
        "dave-laptop": ("admin_terminated", "ann"),
        "dave-phone": ("admin_terminated", "ann"),
        "dave-tablet": ("logout", reasons["dave-tablet"][1]),
    }


def test_a_user_without_admin_scopes_cannot_use_the_console(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server = ledger_server
    server.start("gina", "gina-1", ua="chrome-mac", ip="192.0.2.70", app=("mail", "Mail"))
    sign_in(page, server, user="frank", scopes=("sessions:me",), next_path="/myaccount/sessions")
    page.goto(server.url + "/console/users/gina/sessions")
    expect(page.get_by_role("heading", name="You cannot use the console")).to_be_visible()
    expect(page.locator("#forbidden")).to_contain_text("signed in as frank")
    expect(page.locator("#forbidden")).to_contain_text("sessions:read")
    expect(page.locator("#layout")).to_be_hidden()
    expect(page.get_by_text("192.0.2.70")).to_have_count(0)
    shot(page, "console-forbidden")
    assert len(server.open_sessions("gina")) == 1


def test_a_reader_sees_sessions_but_no_terminate_buttons_and_no_history(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server = ledger_server
    server.start("hugo", "hugo-1", ua="firefox-windows", ip="192.0.2.60", app=("mail", "Mail"))
    sign_in(
        page,
        server,
        user="rita",
        scopes=("sessions:read",),
        next_path="/console/users",
        start_session=False,
    )
    expect(page.get_by_role("heading", name="Sessions of users")).to_be_visible()
    page.locator("#users").get_by_role("link", name=re.compile("^hugo")).click()
    page.wait_for_url(server.url + "/console/users/hugo/sessions")
    expect(page.locator("#active-list > li")).to_have_count(1)
    expect(page.locator("#active-list").get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("button", name="Terminate all sessions")).to_be_hidden()
    expect(page.get_by_text("that needs the sessions:terminate permission")).to_be_visible()
    page.get_by_role("tab", name="History").click()
    expect(page.locator("#history-state")).to_contain_text("not allowed to see the history")
    expect(page.locator("#history-state")).to_contain_text("sessions:audit")

    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("tab", name="Active sessions").click()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the console scrolls sideways by {overflow}px at phone width"
    shot(page, "console-phone")


def test_loading_expired_and_unreachable_are_said_in_plain_words(
    ledger_server: LedgerServer, page: Any, shot: Shot
) -> None:
    server = ledger_server
    # Loading: the API has not answered yet.
    store_token(page, server, server.token("ivan", "sessions:me"))
    page.route("**/v1/me/sessions", lambda route: None)
    page.goto(server.url + "/myaccount/sessions")
    expect(page.locator("#state")).to_contain_text("Loading your sessions")
    page.unroute("**/v1/me/sessions")

    # A token the server does not accept (another signer): sign in again.
    forged = jwt.encode(
        {"sub": "ivan", "scope": "sessions:me", "exp": int(time.time()) + 600},
        "another-secret-that-the-server-does-not-know",
        algorithm="HS256",
    )
    store_token(page, server, forged)
    page.goto(server.url + "/myaccount/sessions")
    expect(page.locator("#state")).to_contain_text("Your sign-in has expired or is no longer valid")
    link = page.get_by_role("link", name="Sign in again")
    expect(link).to_have_attribute("href", "/signin?next=%2Fmyaccount%2Fsessions")
    shot(page, "myaccount-expired")

    # A token past its expiry is caught before any call: the page's clock passes its exp.
    store_token(page, server, server.token("ivan", "sessions:me", ttl=60))
    page.clock.set_system_time(datetime.now(UTC) + timedelta(seconds=61))
    page.goto(server.url + "/myaccount/sessions")
    expect(page.locator("#state")).to_contain_text("Your sign-in has expired")
    page.clock.set_system_time(datetime.now(UTC))

    # The network fails, then comes back: "Try again" loads the list without a reload.
    store_token(page, server, server.token("ivan", "sessions:me"))
    page.route("**/v1/me/sessions", lambda route: route.abort())
    page.goto(server.url + "/myaccount/sessions")
    expect(page.locator("#state")).to_contain_text("could not be reached")
    page.unroute("**/v1/me/sessions")
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#state")).to_contain_text("You have no open sessions")


def test_pages_without_a_token_send_the_person_to_sign_in(
    ledger_server: LedgerServer, page: Any
) -> None:
    page.goto(ledger_server.url + "/console/users/zoe/sessions")
    page.wait_for_url(re.compile(r"/signin\?next="))
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    # Signing in from here picks the console's permissions and returns to the console.
    for scope in ADMIN_SCOPES.split():
        expect(page.locator(f'input[name="scope"][value="{scope}"]')).to_be_checked()
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#dev-user-error")).to_contain_text("Enter the id of the user")
    page.get_by_label("User id").fill("ann")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(ledger_server.url + "/console/users/zoe/sessions")
    expect(page.locator("#active-state")).to_contain_text("zoe has no open sessions")
    assert "token" not in page.url


def test_a_termination_that_fails_keeps_the_session_and_says_why(
    ledger_server: LedgerServer, page: Any
) -> None:
    server = ledger_server
    server.start("jack", "jack-1", ua="firefox-windows", ip="192.0.2.31", app=("mail", "Mail"))
    sign_in(page, server, user="jack", scopes=("sessions:me",), next_path="/myaccount/sessions")
    cards = page.locator("#sessions > li")
    expect(cards).to_have_count(2)
    button = card(page, "Firefox on Windows").get_by_role("button")

    page.route("**/v1/me/sessions/jack-1", lambda route: route.abort())
    button.click()
    page.get_by_role("dialog").get_by_role("button", name="Terminate session").click()
    expect(page.locator("#notice")).to_contain_text("could not be reached")
    expect(cards).to_have_count(2)
    expect(button).to_be_enabled()
    page.unroute("**/v1/me/sessions/jack-1")

    # The sign-in ends while the page is open: the next action offers to sign in again.
    page.evaluate(
        "v => sessionStorage.setItem('ledger.auth', v)",
        json.dumps({"token": server.token("jack", "sessions:me", ttl=60), "via": "dev"}),
    )
    page.clock.set_system_time(datetime.now(UTC) + timedelta(seconds=61))  # its exp passes
    button.click()
    page.get_by_role("dialog").get_by_role("button", name="Terminate session").click()
    expect(page.locator("#notice")).to_contain_text("Your sign-in has expired")
    expect(page.get_by_role("link", name="Sign in again")).to_be_visible()
    assert len(server.open_sessions("jack")) == 2
