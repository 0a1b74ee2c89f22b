"""Unsafe defaults are refused at start with one line naming the setting: no issuer or
audience outside development mode (RFC 8725 §3.8, §3.9), development mode on a public address
or a PostgreSQL database, an http JWKS URL that is not really on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.api.app import create_app
from ledger.api.serve import banner
from ledger.bootstrap import bootstrap
from ledger.config import load_settings
from ledger.errors import ConfigError
from tests.api.conftest import KeyPair, Minter, ids, start
from tests.api.test_backchannel import logout_token
from tests.conftest import FakeClock
from tests.security.conftest import assert_problem

LEDGER = str(Path(sys.executable).parent / "ledger")
SECRET = "s" * 40


def refused(setting: str, **values: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(**({"database_url": "sqlite:///var/unused.sqlite3"} | values))
    message = str(raised.value)
    assert message.startswith(f"{setting}: ") and "\n" not in message
    return message


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"jwt_secret": SECRET}, "LEDGER_JWT_ISSUER"),
        ({"jwt_secret": SECRET, "jwt_issuer": "https://idp"}, "LEDGER_JWT_AUDIENCE"),
        ({"jwks_url": "https://idp/jwks", "jwt_audience": "ledger"}, "LEDGER_JWT_ISSUER"),
    ],
)
def test_without_issuer_or_audience_the_ledger_refuses_to_start(
    values: dict[str, Any], setting: str
) -> None:
    assert "LEDGER_UNSAFE_SKIP_ISSUER_AUDIENCE" in refused(setting, **values)


def test_the_documented_opt_out_and_development_mode_start_without_them() -> None:
    opted_out = load_settings(jwt_secret=SECRET, unsafe_skip_issuer_audience=True)
    assert (opted_out.jwt_issuer, opted_out.jwt_audience) == (None, None)
    assert load_settings(jwt_secret=SECRET, dev_mode=True).dev_mode
    both = load_settings(jwt_secret=SECRET, jwt_issuer="https://idp", jwt_audience="ledger")
    assert (both.jwt_issuer, both.jwt_audience) == ("https://idp", "ledger")


def test_logout_tokens_for_another_client_are_refused_even_with_the_opt_out(
    make_client: Callable[..., TestClient], rsa_key: KeyPair, hs: Minter
) -> None:
    client = make_client(
        jwt_issuer=None, jwt_audience=None, oidc_client_id=None, unsafe_skip_issuer_audience=True
    )
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    token = logout_token(rsa_key, sid="a1", aud="another-client")
    response = client.post("/v1/oidc/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "back-channel logout is not configured",
    }
    assert ids(
        client.get("/v1/users/alice/sessions", headers=hs.auth("root", "sessions:read"))
    ) == ["a1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost.attacker.example/jwks",
        "http://127.0.0.1.attacker.example/jwks",
        "http://localhost@attacker.example/jwks",
        "http://10.0.0.8/jwks",
        "ftp://localhost/jwks",
    ],
)
def test_an_http_jwks_url_must_really_be_on_this_machine(url: str) -> None:
    refused("LEDGER_JWKS_URL", jwks_url=url, jwt_issuer="i", jwt_audience="a")


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080/jwks", "http://127.0.0.2/jwks", "http://[::1]:81/j", "https://idp/j"],
)
def test_https_and_loopback_http_jwks_urls_are_accepted(url: str) -> None:
    assert load_settings(jwks_url=url, jwt_issuer="i", jwt_audience="a").jwks_url == url


def test_development_mode_is_refused_on_a_postgresql_database() -> None:
    url = "postgresql://ledger@db.example:5432/ledger"
    assert "LEDGER_UNSAFE_DEV_MODE_EXPOSED" in refused(
        "LEDGER_DEV_MODE", dev_mode=True, database_url=url
    )
    forced = load_settings(dev_mode=True, database_url=url, unsafe_dev_mode_exposed=True)
    assert forced.dev_mode


def test_serve_dev_on_a_public_address_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    try:
        done = subprocess.run(
            [LEDGER, "serve", "--dev", "--host", "0.0.0.0", "--port", "0"],
            cwd=tmp_path,
            env=env,
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("ledger serve --dev --host 0.0.0.0 started serving")
    assert done.returncode == 2
    assert done.stderr.startswith("ledger: LEDGER_DEV_MODE: ")
    assert "LEDGER_UNSAFE_DEV_MODE_EXPOSED" in done.stderr
    assert not (tmp_path / "var" / "dev-secret").exists()  # refused before anything was made


def test_the_banner_says_when_it_listens_on_every_interface(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/l.db", dev_mode=True, unsafe_dev_mode_exposed=True
    )
    text = banner(settings, host="0.0.0.0", port=8123, dev=True)
    assert "every interface (0.0.0.0)" in text
    assert "ANYONE WHO REACHES IT CAN MINT ADMIN TOKENS" in text


def test_the_development_sign_in_answers_loopback_clients_only(
    tmp_path: Path, clock: FakeClock
) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/l.db",
        dev_mode=True,
        dev_secret_file=tmp_path / "dev-secret",
    )
    system = bootstrap(settings, clock=clock, run_projections=True)
    try:
        app = create_app(settings, system=system)
        body = {"user_id": "mallory", "scopes": ["sessions:read"], "start_session": False}
        with TestClient(app, client=("203.0.113.9", 4000)) as remote:
            assert_problem(remote.post("/web/dev-signin", json=body), 404, "not-found")
            assert remote.get("/web/config").json()["dev_signin"] is False
        with TestClient(app, client=("127.0.0.1", 4000)) as local:
            assert local.post("/web/dev-signin", json=body).status_code == 200
            assert local.get("/web/config").json()["dev_signin"] is True
    finally:
        system.close()
