"""A hypothesis state machine to subclass: drive your integration, have it checked by the model.

`LedgerStateMachine` draws story steps that fit what happened so far (`next_step`), applies
each to the reference model, and hands it to `deliver`, which a subclass overrides to push the
step through its own integration (its connector posting to the ledger's API, its message
queue). After every step the invariants compare the ledger with the model (aggregates always;
the views when `check_views`); a subclass adds its own `@invariant`s (its receiver's state
against `self.model`). Run it with `run(new_database_url)`: one fresh database per example.
Needs hypothesis (`pip install session-ledger[testing]`).
Tests: tests/testing_kit/test_machine.py, tests/properties/test_ledger_machine.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime
from typing import Any, ClassVar

from hypothesis import event
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ledger.testing.checks import assert_ledger_agrees, assert_views_agree, play
from ledger.testing.model import Model
from ledger.testing.sandbox import Sandbox, open_sandbox
from ledger.testing.story import EPOCH, Step
from ledger.testing.strategies import Cast, next_step


class LedgerStateMachine(RuleBasedStateMachine):
    """Story steps to the model and to `deliver`; the ledger must keep agreeing with the model.

    Override `deliver(step)` to send the step through your integration (the default runs the
    ledger's command directly and compares its result with the model's). `self.sandbox` is
    the throw-away ledger (its `client`, `headers`, `clock`), `self.model` the oracle.
    """

    cast: ClassVar[Cast] = Cast()
    """Who the stories mention; `Cast(ingest_only=True)` for integrations of the ingest API."""
    check_views: ClassVar[bool] = False
    """Also compare the views (waits for the projections after each step; slower)."""
    views: ClassVar[bool] = True
    """Run the views and the API (False: the command side alone, much faster per example)."""
    new_database_url: ClassVar[Callable[[], str]]
    start: ClassVar[datetime] = EPOCH

    def __init__(self) -> None:
        super().__init__()
        self._stack = ExitStack()
        self.sandbox: Sandbox = self._stack.enter_context(
            open_sandbox(
                type(self).new_database_url(),
                start=self.start,
                views=self.views or self.check_views,
            )
        )
        self.model: Model = self.sandbox.model

    def teardown(self) -> None:
        """Close the sandbox."""
        self._stack.close()

    def deliver(self, step: Step) -> None:
        """Send `step` through your integration; the model has been told already.

        Not overridden: the ledger's own command runs, and its result must be the model's.
        """
        play(step, ledger=self.sandbox.ledger, model=self.model)

    def after(self, step: Step, expected: Any) -> None:
        """Called after each step with what the model expected (count, label, check)."""

    @rule(data=st.data())
    def happen(self, data: st.DataObject) -> None:
        """One more step of the story."""
        step = data.draw(next_step(self.model, self.sandbox.clock(), self.cast), label="step")
        event(f"step: {type(step).__name__}")
        self.sandbox.clock.now = max(self.sandbox.clock.now, step.at)
        if type(self).deliver is LedgerStateMachine.deliver:
            expected = play(step, ledger=self.sandbox.ledger, model=self.model)
        else:
            expected = step.expect(self.model)
            self.deliver(step)
        self.after(step, expected)

    @invariant()
    def ledger_agrees_with_the_model(self) -> None:
        """The aggregates (and with `check_views` the views) say what the model says."""
        assert_ledger_agrees(self.sandbox.ledger, self.model, self.sandbox.clock())
        if self.check_views:
            self.sandbox.caught_up()
            assert_views_agree(self.sandbox.system, self.model, self.sandbox.clock())

    @classmethod
    def run(cls, new_database_url: Callable[[], str], **settings: Any) -> None:
        """Run the machine, a fresh database from `new_database_url()` for each example.

        `settings` go over the active hypothesis profile (`max_examples=...`).
        """
        machine: Any = type(
            cls.__name__, (cls,), {"new_database_url": staticmethod(new_database_url)}
        )
        case = machine.TestCase
        if settings:
            case.settings = hypothesis_settings(case.settings, **settings)
        case().runTest()
