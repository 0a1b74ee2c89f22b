"""The web pages over HTTP, without a browser: security headers, the development sign-in's
404 outside development mode, its tokens, and device labels. Runs in `make test-fast`."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.api.app import create_app
from ledger.api.pages import PAGES_DIR, device_label
from ledger.bootstrap import bootstrap
from ledger.config import Settings, load_settings
from ledger.keys.dev_tokens import mint_token
from tests.conftest import FakeClock
from tests.user_agents import UA

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "pages-test-secret-" + "p" * 40
PAGES = ["/myaccount/sessions", "/console", "/console/users/alice/sessions", "/signin"]
Client = Callable[..., Any]


@pytest.fixture
def settings_for(tmp_path: Path) -> Callable[..., Settings]:
    """Settings on a fresh SQLite file (the pages hold no storage logic), with overrides."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite:///{tmp_path}/ledger.sqlite3",
            "jwt_secret": SECRET,
            "jwt_issuer": "https://idp.example.test",
            "jwt_audience": "session-ledger",
            "group_commit": False,
        }
        return load_settings(**(values | overrides))

    return make


@pytest.fixture
def serve(settings_for: Callable[..., Settings], clock: FakeClock) -> Iterator[Client]:
    """`serve(**settings)`: a TestClient on a fresh app and ledger."""
    opened: list[Any] = []

    def make(**overrides: Any) -> Any:
        settings = settings_for(**overrides)
        system = bootstrap(settings, clock=clock, run_projections=True)
        client = TestClient(create_app(settings, system=system))
        client.__enter__()
        opened.append((client, system))
        return client

    yield make
    for client, system in opened:
        client.__exit__(None, None, None)
        system.close()


@pytest.fixture
def dev_settings(tmp_path: Path) -> dict[str, Any]:
    """Overrides for development mode: no secret configured, a development secret file."""
    return {"jwt_secret": None, "dev_mode": True, "dev_secret_file": tmp_path / "dev-secret"}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_carries_a_content_security_policy_without_inline_script(
    serve: Client, path: str
) -> None:
    response = serve().get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("name", ["myaccount", "console", "signin"])
def test_the_html_has_no_inline_script_style_or_handler(name: str) -> None:
    html = (PAGES_DIR / f"{name}.html").read_text()
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert not re.search(r"<script[^>]*>\s*[^<\s]", html), "inline script"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert " style=" not in html
    assert "<style" not in html
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html


def test_the_scripts_and_styles_are_served_as_static_files(serve: Client) -> None:
    client = serve()
    for name in ("common.js", "myaccount.js", "console.js", "signin.js", "style.css"):
        response = client.get(f"/static/pages/{name}")
        assert response.status_code == 200, name
    assert "javascript" in client.get("/static/pages/common.js").headers["content-type"]


def test_short_paths_lead_to_the_sessions_pages(serve: Client) -> None:
    client = serve()
    assert client.get("/", follow_redirects=False).headers["location"] == "/myaccount/sessions"
    response = client.get("/myaccount", follow_redirects=False)
    assert response.headers["location"] == "/myaccount/sessions"
    response = client.get("/console/users/alice", follow_redirects=False)
    assert response.headers["location"] == "/console/users/alice/sessions"


def test_the_development_sign_in_is_404_unless_the_server_runs_on_its_development_secret(
    serve: Client,
) -> None:
    client = serve()  # LEDGER_JWT_SECRET is set
    assert client.get("/web/config").json() == {"dev_signin": False, "oidc": None}
    response = client.post("/web/dev-signin", json={"user_id": "alice"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_dev_mode_with_a_configured_secret_still_offers_no_development_sign_in(
    serve: Client, tmp_path: Path
) -> None:
    client = serve(dev_mode=True, dev_secret_file=tmp_path / "dev-secret")
    assert client.get("/web/config").json()["dev_signin"] is False
    assert client.post("/web/dev-signin", json={"user_id": "alice"}).status_code == 404


def test_the_development_sign_in_mints_a_token_and_records_this_browser(
    serve: Client, dev_settings: dict[str, Any]
) -> None:
    client = serve(**dev_settings)
    assert client.get("/web/config").json()["dev_signin"] is True
    response = client.post(
        "/web/dev-signin",
        json={"user_id": "alice", "scopes": ["sessions:me"], "start_session": True},
        headers={"User-Agent": UA["firefox-windows"]},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    mine = client.get(
        "/v1/me/sessions", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()["sessions"]
    assert [(s["id"], s["current"]) for s in mine] == [(body["sid"], True)]
    assert mine[0]["user_agent"] == UA["firefox-windows"]
    assert mine[0]["applications"][0]["id"] == "session-ledger-web"


def test_the_development_sign_in_refuses_scopes_the_pages_do_not_use(
    serve: Client, dev_settings: dict[str, Any]
) -> None:
    client = serve(**dev_settings)
    response = client.post(
        "/web/dev-signin", json={"user_id": "alice", "scopes": ["sessions:ingest"]}
    )
    assert response.status_code == 422
    response = client.post("/web/dev-signin", json={"user_id": "alice", "admin": True})
    assert response.status_code == 422


def test_the_oidc_issuer_is_offered_and_allowed_by_the_policy(serve: Client) -> None:
    client = serve(oidc_issuer="https://idp.example.test/realms/acme", oidc_client_id="ledger")
    assert client.get("/web/config").json()["oidc"] == {
        "issuer": "https://idp.example.test/realms/acme",
        "client_id": "ledger",
    }
    csp = client.get("/signin").headers["content-security-policy"]
    assert "connect-src 'self' https://idp.example.test;" in csp


def test_device_labels_need_a_signed_in_caller(
    serve: Client, settings_for: Callable[..., Settings]
) -> None:
    client = serve()
    body = {"user_agents": [UA["firefox-windows"], UA["safari-iphone"]]}
    assert client.post("/web/devices", json=body).status_code == 401
    token = mint_token(settings_for(), sub="alice", scope="sessions:me")
    response = client.post("/web/devices", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"devices": ["Firefox on Windows", "Mobile Safari on iPhone"]}


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        (UA["firefox-windows"], "Firefox on Windows"),
        (UA["safari-iphone"], "Mobile Safari on iPhone"),
        (UA["chrome-mac"], "Chrome on macOS"),
        (UA["edge-windows"], "Edge on Windows"),
        (UA["chrome-android"], "Chrome Mobile on Android"),
        ("curl/8.5.0", "curl"),
        ("", "Unknown browser"),
        ("something nobody knows", "Unknown browser"),
    ],
)
def test_device_labels_read_as_people_say_them(agent: str, label: str) -> None:
    assert device_label(agent) == label
