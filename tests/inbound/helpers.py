"""Helpers of the inbound tests: vendors' fixtures, what the ledger shows, the metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Minter

FIXTURES = Path(__file__).parent / "fixtures"
READER = "sessions:read sessions:audit"


def fixture(path: str) -> dict[str, Any]:
    """A vendor's documented example, parsed."""
    data: dict[str, Any] = json.loads((FIXTURES / path).read_text())
    return data


def at_ms(ms: int) -> datetime:
    """An epoch-milliseconds time as a datetime."""
    return datetime.fromtimestamp(ms / 1000, UTC)


def history(client: TestClient, hs: Minter, user: str, tenant: str) -> dict[str, dict[str, Any]]:
    """The user's sessions (open and ended) by id."""
    headers = hs.auth("auditor", READER, tenant=tenant)
    response = client.get(f"/v1/users/{user}/sessions/history", headers=headers)
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["sessions"]}


def active(client: TestClient, hs: Minter, user: str, tenant: str) -> list[str]:
    """The ids of the user's active sessions."""
    headers = hs.auth("auditor", READER, tenant=tenant)
    response = client.get(f"/v1/users/{user}/sessions", headers=headers)
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["sessions"]]


def metric(client: TestClient, connection: str, outcome: str) -> float:
    """The value of ledger_inbound_events_total for the connection and outcome (0 if none)."""
    text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith("ledger_inbound_events_total{") and (
            f'connection="{connection}"' in line and f'outcome="{outcome}"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
