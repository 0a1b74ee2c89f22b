"""`LedgerStateMachine`: an integration driven by stories is checked against the model.

An integration that forwards every step through the ingest API passes; one that drops the
identity provider's logouts is caught (the machine raises the disagreement it found).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import Phase

from ledger.testing.checks import Disagreement
from ledger.testing.machine import LedgerStateMachine
from ledger.testing.story import End, Step
from ledger.testing.strategies import Cast

IDP = Cast(tenants=("acme",), actors=("idp",), ingest_only=True)
QUICK = {"max_examples": 4, "stateful_step_count": 10, "deadline": None}


class Forwarder(LedgerStateMachine):
    """An integration that sends each step to the ledger's ingest API."""

    cast: ClassVar[Cast] = IDP

    def deliver(self, step: Step) -> None:
        method, path, body = step.ingest_request()
        headers = self.sandbox.headers("sessions:ingest", sub="idp", tenant="acme")
        response = self.sandbox.client.request(method, path, json=body, headers=headers)
        assert response.status_code < 300, response.text


class LosesLogouts(Forwarder):
    """A broken integration: it drops every session end."""

    def deliver(self, step: Step) -> None:
        if not isinstance(step, End):
            super().deliver(step)


def urls(tmp_path: Path) -> object:
    numbers = iter(range(10**6))
    return lambda: f"sqlite:///{tmp_path}/m{next(numbers)}.sqlite3"


def test_a_faithful_integration_passes(tmp_path: Path) -> None:
    Forwarder.run(urls(tmp_path), **QUICK)  # type: ignore[arg-type]


def test_an_integration_that_loses_logouts_is_caught(tmp_path: Path) -> None:
    with pytest.raises(Disagreement):
        LosesLogouts.run(
            urls(tmp_path),  # type: ignore[arg-type]
            max_examples=30,
            stateful_step_count=10,
            deadline=None,
            phases=[Phase.generate],  # the first failure is enough: no shrinking
        )
