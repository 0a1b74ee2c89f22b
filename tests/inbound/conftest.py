"""Inbound fixtures: the API fixtures, and an app serving a connections file per test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import (  # noqa: F401 - fixtures
    api_settings,
    api_system,
    client,
    ec_key,
    hs,
    jwks_file,
    make_client,
    rs,
    rsa_key,
    stranger_key,
)


@pytest.fixture
def connect(
    make_client: Callable[..., TestClient],  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> Callable[[str], TestClient]:
    """A client of an app serving the connections of the given TOML text."""

    def make(toml: str) -> TestClient:
        path = tmp_path / "connections.toml"
        path.write_text(toml)
        return make_client(connections_file=path)

    return make
