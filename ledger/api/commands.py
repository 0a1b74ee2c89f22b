"""Running a ledger command for a request: count it, then wait for the views (read-your-writes).

`run_command` answers only once every view has processed the command's log position
(bounded by `LEDGER_CONSISTENCY_TIMEOUT_S`), so a GET right after a DELETE never shows the
session. Tests: tests/api/test_me.py (terminate then list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from ledger.aggregates.errors import LedgerError
from ledger.api.context import ApiContext
from ledger.api.problems import domain_problem
from ledger.outcomes import ActivityOutcome, Outcome, StartOutcome, TerminateOutcome

O = TypeVar("O", bound=Outcome)  # noqa: E741
log = logging.getLogger("ledger.api")


def outcome_label(outcome: Outcome) -> str:
    """A short word for what the command did (the metric's `outcome` label)."""
    if isinstance(outcome, StartOutcome):
        return "created" if outcome.created else "repeated"
    if isinstance(outcome, TerminateOutcome):
        return "terminated" if outcome.terminated else "already_ended"
    if isinstance(outcome, ActivityOutcome):
        return "recorded" if outcome.recorded or outcome.joined else "acknowledged"
    return "done"


def run_command(context: ApiContext, name: str, command: Callable[[], O]) -> O:
    """Run `command`, count it, and wait until the views have caught up with it."""
    system = context.ready_system()
    try:
        outcome = command()
    except LedgerError as e:
        context.metrics.command(name, domain_problem(e)[1])
        raise
    except Exception:
        context.metrics.command(name, "error")
        raise
    context.metrics.command(name, outcome_label(outcome))
    if not system.wait(outcome.position):
        context.metrics.stale.inc()
        log.warning("%s: views did not reach position %s in time", name, outcome.position)
    return outcome
