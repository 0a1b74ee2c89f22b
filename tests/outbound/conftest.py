"""Outbound fixtures: the ledger's log decoded, a signing key file, settings for a transmitter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import LedgerSystem
from ledger.config import Settings
from ledger.outbound.keys import generate_pem

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
