"""An example: check your integration of the Session Ledger with its public testing kit.

`forward` stands for your code (here: it sends what the identity provider tells it to the
ledger's ingest API). The test draws random stories, tells the reference model each step,
sends it through `forward`, and checks that the ledger says what the model says.
Needs `pip install session-ledger[testing]`; the fixture comes from the kit's pytest plugin.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager

from hypothesis import given, settings

from ledger.testing.sandbox import Sandbox
from ledger.testing.story import Step
from ledger.testing.strategies import Cast, stories

IDP = Cast(tenants=("acme",), actors=("idp",), ingest_only=True)  # what an IdP sends, as "idp"


def forward(sandbox: Sandbox, step: Step) -> None:  # your integration
    method, path, body = step.ingest_request()
    headers = sandbox.headers("sessions:ingest", sub="idp", tenant="acme")
    sandbox.client.request(method, path, json=body, headers=headers).raise_for_status()


@settings(max_examples=5, deadline=None)  # a real ledger per example: few, and not instant
@given(story=stories(cast=IDP, max_steps=12))
def test_forwarded_stories_leave_the_ledger_as_the_model_says(
    story: list[Step], ledger_sandboxes: Callable[[], AbstractContextManager[Sandbox]]
) -> None:
    with ledger_sandboxes() as sandbox:
        for step in story:
            sandbox.expect(step)  # the model hears the story ...
            forward(sandbox, step)  # ... and the ledger hears it through your integration
        sandbox.check()  # the ledger's records and views say what the model says
