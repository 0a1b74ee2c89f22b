"""Development tokens: a random 0600 secret, `mint_token`, `ledger token`; no key, no start."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.api.app import create_app
from ledger.api.tokens import mint_token, read_dev_secret
from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.cli import app as cli
from ledger.config import Settings
from ledger.errors import ConfigError
from tests.api.conftest import AUDIENCE, ISSUER, SECRET


def test_a_minted_token_carries_the_claims_and_the_configured_iss_and_aud(
    api_settings: Settings,
) -> None:
    token = mint_token(
        api_settings, sub="alice", scope="sessions:me  sessions:read", tenant="t", sid="s1", ttl=60
    )
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == "alice"
    assert claims["scope"] == "sessions:me sessions:read"
    assert (claims["tenant"], claims["sid"]) == ("t", "s1")
    assert claims["exp"] - claims["iat"] == 60


def test_the_development_secret_is_random_private_and_accepted_by_a_dev_app(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    # development mode on this test's PostgreSQL backend needs the loud override
    dev = {"jwt_secret": None, "dev_mode": True, "unsafe_dev_mode_exposed": True}
    one = make_settings(**dev, dev_secret_file=tmp_path / "a" / "secret")
    two = make_settings(**dev, dev_secret_file=tmp_path / "b" / "secret")
    token = mint_token(one, sub="alice", scope="sessions:me")
    assert stat.S_IMODE(one.dev_secret_file.stat().st_mode) == 0o600
    assert read_dev_secret(one.dev_secret_file, create=False) != read_dev_secret(
        two.dev_secret_file, create=True
    )
    system: LedgerSystem = bootstrap(one, run_projections=False)
    try:
        app = create_app(one, system=system)
        assert app.state.ledger.dev_mode is True
        with TestClient(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            assert client.get("/v1/me/sessions", headers=headers).status_code == 200
            other = mint_token(two, sub="alice", scope="sessions:me")
            assert (
                client.get(
                    "/v1/me/sessions", headers={"Authorization": f"Bearer {other}"}
                ).status_code
                == 401
            )
    finally:
        system.close()


def test_without_a_signing_key_the_app_refuses_to_start_outside_dev_mode(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ConfigError, match="LEDGER_JWT_SECRET"):
        create_app(make_settings(jwt_secret=None))


def test_a_development_secret_readable_by_others_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text("s" * 64)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        mint_token(make_settings(jwt_secret=None, dev_secret_file=path), sub="a", scope="x")


def test_tokens_are_not_minted_when_the_idp_signs_them(
    make_settings: Callable[..., Settings], jwks_file: Path
) -> None:
    with pytest.raises(ConfigError, match="identity provider"):
        mint_token(make_settings(jwt_secret=None, jwks_file=jwks_file), sub="a", scope="x")


def test_ledger_token_prints_a_token_signed_with_the_secret(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("LEDGER_JWT_SECRET", SECRET)
    monkeypatch.setenv("LEDGER_JWT_ISSUER", ISSUER)
    monkeypatch.setenv("LEDGER_JWT_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    result = CliRunner().invoke(
        cli, ["token", "--sub", "alice", "--scope", "sessions:me", "--sid", "s9"]
    )
    assert result.exit_code == 0, result.output
    claims = jwt.decode(
        result.output.strip(), SECRET, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER
    )
    assert (claims["sub"], claims["sid"], claims["tenant"]) == ("alice", "s9", "default")
    bad = CliRunner().invoke(cli, ["token", "--sub", "alice", "--ttl", "0"])
    assert bad.exit_code == 2
