"""`POST /v1/events`: up to 1,000 identity-provider events in one request and one transaction.

Each item is what one single-event route of the ingest API takes (`type` names it: `start`,
`activity` (an SSO join is activity with an `application`), `terminate`, `password_reset`,
`revoke`), with the path's id in the item. Items are decided in order, each seeing the
earlier ones, and what they record is committed in one transaction. Each is answered in order
with the status and body its single-event route would have answered: a result, or an RFC 9457
problem (an unknown session, an ended one, a conflicting start, a time in the future). A
refused item records nothing and does not stop the others. The envelope is checked as a
whole: a body that does not match the schema is one 422 for the request, nothing recorded
(a sender's bug, not a state of the ledger). The answer comes once every view has the batch
(read-your-writes, like the single-event routes). Tests: tests/api/test_events.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator
from starlette.responses import Response

from ledger.aggregates.errors import LedgerError
from ledger.api.auth import Ingestor
from ledger.api.commands import outcome_label
from ledger.api.context import ApiContext, ContextDep
from ledger.api.problems import TYPE_PREFIX, domain_problem, error_responses
from ledger.api.responses import OrjsonResponse
from ledger.api.schemas import (
    ActivityBody,
    Body,
    Id,
    PasswordResetBody,
    RevokeBody,
    StartBody,
    TerminateBody,
    session_json,
)
from ledger.inbound import ingest
from ledger.inbound.commands import COMMAND_NAMES
from ledger.outcomes import ActivityOutcome, BulkOutcome, Outcome, StartOutcome, TerminateOutcome
from ledger.validation import ip as valid_ip

MAX_EVENTS = 1000
router = APIRouter(prefix="/v1", tags=["ingest"])


class _AddressChecked(BaseModel):
    """The item's `ip` is part of the envelope's schema (format ipv4/ipv6): one off it is a
    body off the schema, so the whole request is a 422, as for any other schema violation."""

    @field_validator("ip", check_fields=False)
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        valid_ip(value)  # its InvalidInput is a ValueError: pydantic's validation error
        return value


class StartEvent(_AddressChecked, StartBody):
    """A session start (`POST /v1/sessions`)."""

    type: Literal["start"]


class ActivityEvent(_AddressChecked, ActivityBody):
    """Activity or an SSO join (`POST /v1/sessions/{session_id}/activity`)."""

    type: Literal["activity"]
    session_id: Id


class TerminateEvent(TerminateBody):
    """A logout or a closed browser (`POST /v1/sessions/{session_id}/terminate`)."""

    type: Literal["terminate"]
    session_id: Id


class PasswordResetEvent(PasswordResetBody):
    """A password reset (`POST /v1/users/{user_id}/password-reset`)."""

    type: Literal["password_reset"]
    user_id: Id


class RevokeEvent(RevokeBody):
    """A locked, disabled or deleted account (`POST /v1/users/{user_id}/revoke`)."""

    type: Literal["revoke"]
    user_id: Id


Event = Annotated[
    StartEvent | ActivityEvent | TerminateEvent | PasswordResetEvent | RevokeEvent,
    Field(discriminator="type"),
]


class EventBatch(Body):
    """`POST /v1/events`: the events, in the order they happened."""

    events: Annotated[list[Event], Field(min_length=1, max_length=MAX_EVENTS)]


class EventResult(BaseModel):
    """One item's answer: the status and body its single-event route would have answered."""

    status: int
    body: dict[str, Any]


class EventResults(BaseModel):
    """The items' answers, in the order of the request."""

    results: list[EventResult]


@router.post(
    "/events",
    response_model=EventResults,
    responses=error_responses(400, 401, 403, 413, 422, 503),
    summary="Record a batch of identity-provider events",
)
def record_events(batch: EventBatch, caller: Ingestor, context: ContextDep) -> Response:
    """Record up to 1,000 events in one transaction; each answered in order on its own."""
    system = context.ready_system()
    commands = [
        ingest.event(item.model_dump(exclude_none=True), actor=caller.sub) for item in batch.events
    ]
    answers, position = ingest.run_batch(system.ledger, caller.tenant, commands)
    for command, answer in zip(commands, answers, strict=True):
        label = domain_problem(answer)[1] if isinstance(answer, LedgerError) else None
        context.metrics.command(COMMAND_NAMES[type(command)], label or outcome_label(answer))  # type: ignore[arg-type]
    if position is not None and not system.wait(position):
        context.metrics.stale.inc()
    results = [_result(answer, context) for answer in answers]
    return OrjsonResponse({"results": results})


def _result(answer: Outcome | LedgerError, context: ApiContext) -> dict[str, Any]:
    """The status and body of one item, as its single-event route answers them."""
    if isinstance(answer, LedgerError):
        status, slug, title = domain_problem(answer)
        problem = {"type": TYPE_PREFIX + slug, "title": title, "status": status}
        return {"status": status, "body": {**problem, "detail": answer.detail}}
    if isinstance(answer, StartOutcome):
        assert answer.session is not None
        body = session_json(answer.session, now=context.now())
        return {"status": 201 if answer.created else 200, "body": body}
    if isinstance(answer, ActivityOutcome):
        return {"status": 202, "body": {"recorded": answer.recorded, "joined": answer.joined}}
    if isinstance(answer, TerminateOutcome):
        return {"status": 200, "body": {"terminated": answer.terminated, "reason": answer.reason}}
    assert isinstance(answer, BulkOutcome)
    return {"status": 200, "body": {"terminated": answer.terminated}}
