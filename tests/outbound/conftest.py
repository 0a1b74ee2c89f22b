"""Outbound fixtures: the ledger's log decoded, a signing key file, settings for a transmitter."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from ledger.keys.dev_tokens import mint_token
from ledger.outbound.keys import generate_pem

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TRANSMITTER = "https://ledger.example.test"


def log_events(system: LedgerSystem, after: int = 0) -> list[tuple[Any, int]]:
    """Every event of the log after `after`, decoded, with its position."""
    found: list[tuple[Any, int]] = []
    while True:
        page = system.ledger.recorder.select_notifications(start=after + 1, limit=500)
        if not page:
            return found
        for n in page:
            found.append((system.ledger.mapper.to_domain_event(n), n.id))
        after = page[-1].id


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEM file with two RSA keys: the first signs, the second is still published."""
    path = tmp_path_factory.mktemp("ssf-keys") / "signing.pem"
    path.write_bytes(generate_pem() + generate_pem())
    return path


@pytest.fixture
def outbound_settings(make_settings: Callable[..., Settings], key_file: Path) -> Settings:
    """A transmitter on the test database, allowed to reach the tests' loopback receivers."""
    return make_settings(
        issuer=TRANSMITTER,
        signing_key_file=key_file,
        outbound_allow_private_networks=True,
        outbound_retry_base_s=0.05,
        outbound_retry_max_s=0.2,
        consistency_timeout_s=10,
        pg_pool_size=2,
        reaper_interval_s=3600,
    )


@pytest.fixture
def transmitter(outbound_settings: Settings, clock: Any) -> Iterator[Any]:
    """The API of a transmitter (projections and delivery running), as a TestClient."""
    from ledger.api.app import create_app

    system = bootstrap(outbound_settings, run_projections=True)
    with TestClient(create_app(outbound_settings, system=system)) as client:
        client.system = system
        yield client
    system.close()


def auth(
    settings: Settings, sub: str = "rp-1", scope: str = "ssf.manage", **kw: Any
) -> dict[str, str]:
    """An Authorization header with a token of `sub` (tenant `acme` unless given)."""
    token = mint_token(settings, sub=sub, scope=scope, tenant=kw.pop("tenant", "acme"), **kw)
    return {"Authorization": f"Bearer {token}"}


def wait_until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `condition` until it is true (AssertionError after `timeout` seconds)."""
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
