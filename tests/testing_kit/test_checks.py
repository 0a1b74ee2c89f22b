"""The kit's checks fail when the ledger and the model disagree (they can fail).

A ledger that was not told an end, a refusal of another kind, views that miss a session: each
raises `Disagreement`, on a real sandbox ledger (SQLite).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.testing.checks import Disagreement, assert_views_agree
from ledger.testing.sandbox import Sandbox, open_sandbox
from ledger.testing.story import EPOCH, Activity, End, Start


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    with open_sandbox(f"sqlite:///{tmp_path}/kit.sqlite3") as box:
        box.play(Start("acme", "alice", "s1", EPOCH))
        yield box


def test_a_story_played_on_both_agrees(sandbox: Sandbox) -> None:
    sandbox.play(Activity("acme", "s1", EPOCH.replace(minute=5), app="crm"))
    sandbox.play(End("acme", "s1", EPOCH.replace(minute=6), "logout", "idp"))
    sandbox.check()
    (session,) = sandbox.model.history("acme", "alice")
    assert (session.reason, session.apps) == ("logout", [None, "crm"][1:])


def test_an_end_the_ledger_never_heard_of_is_caught(sandbox: Sandbox) -> None:
    sandbox.expect(End("acme", "s1", EPOCH.replace(minute=1), "logout", "idp"))  # model only
    with pytest.raises(Disagreement, match="state"):
        sandbox.check()


def test_a_step_the_ledger_refuses_but_the_model_accepts_is_caught(sandbox: Sandbox) -> None:
    sandbox.expect(Start("acme", "bob", "s2", EPOCH))  # the ledger does not know s2
    with pytest.raises(Disagreement, match="refusal"):
        sandbox.play(Activity("acme", "s2", EPOCH.replace(minute=2)))


def test_views_missing_a_session_are_caught(sandbox: Sandbox) -> None:
    sandbox.caught_up()
    sandbox.model.start(
        "acme", "s3", "alice", EPOCH, EPOCH, idle=1800, max_life=36000, app=None, ip=None
    )
    with pytest.raises(Disagreement, match="active"):
        assert_views_agree(sandbox.system, sandbox.model, sandbox.clock())
