"""The strategies draw consistent stories; each step reaches the ingest API as documented.

Stories' times never go back, a story without refusals holds only steps the model accepts,
an ingest-only story only what the ingest API carries, and the requests carry the step's data.
"""

from __future__ import annotations

from hypothesis import given, settings

from ledger.testing.model import Model, ModelError
from ledger.testing.story import EPOCH, IDP_REASONS, INGEST_STEPS, End, PasswordReset, Start, Step
from ledger.testing.strategies import Cast, stories


@settings(max_examples=30)
@given(story=stories(max_steps=40))
def test_stories_move_forward_and_the_model_accepts_every_step(story: list[Step]) -> None:
    model = Model()
    times = [step.at for step in story]
    assert times == sorted(times)
    assert times[0] >= EPOCH
    for step in story:
        step.expect(model)  # raises ModelError on a refused step


@settings(max_examples=30)
@given(story=stories(cast=Cast(ingest_only=True), max_steps=40, refusals=True))
def test_ingest_stories_hold_only_what_the_ingest_api_carries(story: list[Step]) -> None:
    for step in story:
        assert isinstance(step, INGEST_STEPS)
        assert not isinstance(step, End) or step.reason in IDP_REASONS
        method, path, body = step.ingest_request()
        assert method == "POST"
        assert path.startswith("/v1/")
        assert body.get("at", body.get("started_at")) == step.at.isoformat()


def test_refusals_appear_when_asked_for() -> None:
    refused = []

    @settings(max_examples=40)
    @given(story=stories(max_steps=30, refusals=True))
    def count(story: list[Step]) -> None:
        model = Model()
        for step in story:
            try:
                step.expect(model)
            except ModelError:
                refused.append(step)

    count()
    assert refused


def test_requests_carry_the_steps_data() -> None:
    start = Start("acme", "alice", "s1", EPOCH, app="mail", ip="192.0.2.1", idle=60, max_life=600)
    assert start.ingest_request() == (
        "POST",
        "/v1/sessions",
        {
            "session_id": "s1", "user_id": "alice", "started_at": EPOCH.isoformat(),
            "idle_timeout_s": 60, "max_lifetime_s": 600,
            "application": {"id": "mail", "name": "mail"}, "ip": "192.0.2.1",
        },
    )  # fmt: skip
    reset = PasswordReset("acme", "alice", EPOCH, "idp", keep="s1")
    assert reset.ingest_request()[2] == {"at": EPOCH.isoformat(), "keep_session_id": "s1"}
