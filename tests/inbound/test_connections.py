"""The connections file: a bad file or a connection missing what its kind needs stops the
service with one line naming LEDGER_CONNECTIONS_FILE; a good one serves each connection."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.inbound.connections import load_connections

GOOD = """
[[connection]]
name = "asgardeo"
kind = "wso2"
tenant = "acme"
secret_env = "TEST_ASGARDEO_SECRET"
"""


def load(tmp_path: Path, make_settings: Callable[..., Settings], text: str) -> object:
    path = tmp_path / "connections.toml"
    path.write_text(text)
    return load_connections(make_settings(connections_file=path))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[[connection]\nname=", "cannot read"),
        ('title = "x"', "only [[connection]] tables"),
        ('[[connection]]\nname = "a b"\nkind = "wso2"', "`name`"),
        ('[[connection]]\nname = "a"\nkind = "okta"', "`kind`"),
        ('[[connection]]\nname = "a"\nkind = "wso2"', "needs `secret`"),
        ('[[connection]]\nname = "a"\nkind = "wso2"\nsecret = "short"', "shorter than"),
        ('[[connection]]\nname = "a"\nkind = "wso2"\nsecrt = "x"', "unknown key(s) secrt"),
        ('[[connection]]\nname = "a"\nkind = "wso2"\nsecret_env = "NOPE_NOT_SET"', "not set"),
        ('[[connection]]\nname = "a"\nkind = "oidc"', "jwks_file"),
        ('[[connection]]\nname = "a"\nkind = "wso2"\ntenant = ""', "`tenant`"),
        (GOOD + GOOD, "used twice"),
    ],
)
def test_a_bad_connections_file_is_one_line_naming_the_setting(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    words: str,
) -> None:
    monkeypatch.setenv("TEST_ASGARDEO_SECRET", "s" * 32)
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, make_settings, text)
    assert raised.value.setting == "LEDGER_CONNECTIONS_FILE"
    assert words in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_missing_file_is_refused(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_connections(make_settings(connections_file=tmp_path / "nope.toml"))


def test_ledger_serve_stops_with_one_line_on_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "connections.toml"
    path.write_text('[[connection]]\nname = "a"\nkind = "keycloak-typo"\n')
    env = {
        "LEDGER_CONNECTIONS_FILE": str(path),
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.sqlite3",
        "LEDGER_JWT_SECRET": "x" * 40,
        "LEDGER_JWT_ISSUER": "https://idp.example.test",
        "LEDGER_JWT_AUDIENCE": "session-ledger",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ledger.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ledger: LEDGER_CONNECTIONS_FILE: connection 'a': `kind`")


def test_an_unknown_connection_is_a_404(connect: Callable[[str], TestClient]) -> None:
    client = connect(
        GOOD.replace('secret_env = "TEST_ASGARDEO_SECRET"', 'secret = "' + "s" * 32 + '"')
    )
    response = client.post("/v1/inbound/nope", content=b"{}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
