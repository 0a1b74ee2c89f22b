"""End to end in headless Chromium: sign-in with OpenID Connect (authorization code + PKCE).

A ledger that trusts only a test identity provider's keys (no development secret, so no
development sign-in) and names it in LEDGER_OIDC_ISSUER; the page discovers the provider,
sends the browser there, exchanges the code with its PKCE verifier and shows the user's
sessions, the IdP's `sid` marked "this session". No token ever reaches the ledger's logs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LedgerServer, running_ledger
from tests.browser.fake_idp import AUDIENCE, FakeIdP

pytestmark = pytest.mark.browser

CLIENT_ID = "session-ledger-web"


@pytest.fixture(scope="module")
def oidc(
    chromium_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[FakeIdP, LedgerServer, Path]]:
    """A test identity provider, and a ledger that trusts it and offers it to the pages."""
    home = tmp_path_factory.mktemp("ledger-oidc")
    idp = FakeIdP(client_id=CLIENT_ID, user="olga", sid="olga-laptop")
    (home / "jwks.json").write_text(json.dumps(idp.jwks()))
    env = {
        "LEDGER_JWKS_FILE": str(home / "jwks.json"),
        "LEDGER_JWT_ISSUER": idp.issuer,
        "LEDGER_JWT_AUDIENCE": AUDIENCE,
        "LEDGER_OIDC_ISSUER": idp.issuer,
        "LEDGER_OIDC_CLIENT_ID": CLIENT_ID,
    }
    idp.start()
    try:
        with running_ledger(home, env=env, dev=False) as url:
            server = LedgerServer(url, lambda sub, scope, sid, ttl: idp.token(sub, scope, sid=sid))
            yield idp, server, home / "server.log"
            server.http.close()
    finally:
        idp.stop()


def test_signing_in_with_openid_connect_and_pkce_shows_my_sessions(
    oidc: tuple[FakeIdP, LedgerServer, Path], page: Any, shot: Callable[..., Path]
) -> None:
    idp, server, log = oidc
    server.start(
        "olga",
        "olga-laptop",
        ua="firefox-windows",
        ip="203.0.113.5",
        app=("mail", "Mail"),
        minutes_ago=2,
    )
    server.start(
        "olga",
        "olga-phone",
        ua="safari-iphone",
        ip="198.51.100.5",
        app=("calendar", "Calendar"),
        minutes_ago=60,
    )

    page.goto(server.url + "/signin?next=/myaccount/sessions")
    button = page.get_by_role("button", name=f"Sign in with 127.0.0.1:{idp.port}")
    expect(button).to_be_visible()
    expect(page.get_by_role("heading", name="Development sign-in")).to_be_hidden()
    shot(page, "signin-oidc")
    button.click()
    page.wait_for_url(server.url + "/myaccount/sessions")

    cards = page.locator("#sessions > li")
    expect(cards).to_have_count(2)
    this = page.locator("li.session").filter(has_text="This session")
    expect(this).to_contain_text("Firefox on Windows")
    expect(page.get_by_text("Signed in as")).to_contain_text("olga")

    (asked,) = idp.authorize_requests
    assert asked["scope"] == "openid sessions:me"
    assert asked["redirect_uri"] == server.url + "/signin"
    assert asked["code_challenge_method"] == "S256"
    assert asked["state"]
    assert asked["nonce"]
    (token,) = idp.issued
    stored = page.evaluate("sessionStorage.getItem('ledger.auth')")
    assert json.loads(stored)["token"] == token
    assert token not in log.read_text(), "the access token reached the server's log"
    assert "code=" not in page.url


def test_an_answer_that_no_sign_in_here_started_is_refused(
    oidc: tuple[FakeIdP, LedgerServer, Path], page: Any
) -> None:
    _, server, _ = oidc
    page.goto(server.url + "/signin?code=stolen&state=guessed")
    expect(page.locator("#state")).to_contain_text(
        "The sign-in did not complete: the answer does not match a sign-in started in this tab"
    )
    assert re.search(r"/signin$", page.url)
    assert page.evaluate("sessionStorage.getItem('ledger.auth')") is None


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("access_denied", "the identity provider denied access"),
        ("<img src=x onerror=alert(1)>", "the identity provider refused the sign-in"),
    ],
)
def test_an_idp_error_is_shown_in_our_words_never_its_description(
    oidc: tuple[FakeIdP, LedgerServer, Path], page: Any, code: str, shown: str
) -> None:
    """A link can carry any `error_description`: the page shows only its own allow-listed
    text for the `error` code (RFC 6749 §4.1.2.1), as plain text."""
    _, server, _ = oidc
    lure = "Your account is locked. Call +1 555 0100 <b>now</b>"
    page.goto(server.url + "/signin?" + urlencode({"error": code, "error_description": lure}))
    state = page.locator("#state")
    expect(state).to_contain_text(f"The sign-in did not complete: {shown}.")
    assert "555" not in page.content()
    assert page.locator("#state img, #state b").count() == 0
