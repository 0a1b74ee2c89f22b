"""What the console's operators may do to the tenant's receivers: pause, resume, redeliver.

The receivers' owners manage their own streams and webhooks (`/v1/ssf/*`, `/v1/webhooks`);
an administrator of the tenant (scope `sessions:terminate`, the console's permission to
change things) may pause any receiver of the tenant (its events are held), resume it, or
send its messages again from a log position (same ids: receivers deduplicate). A receiver of
another tenant answers 404 like a missing one. What the console reads is
`GET /v1/outbound/deliveries` (`sessions:audit`), whatever kinds of receiver it lists.
Tests: tests/outbound/test_operators.py.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from ledger.api.auth import Terminator
from ledger.api.problems import ApiProblem, error_responses
from ledger.api.responses import OrjsonResponse
from ledger.api.webhooks import OutboundDep, Redelivery
from ledger.outbound import queue, receivers
from ledger.outbound.runtime import Outbound

router = APIRouter(
    prefix="/v1/outbound/receivers",
    tags=["webhooks"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503),
)


def _receiver(outbound: Outbound, tenant: str, receiver_id: str) -> dict[str, object]:
    found = receivers.get(outbound.store, receiver_id, tenant=tenant, owner=None)
    if found is None:
        raise ApiProblem(404, "not-found", "Not found", f"no receiver {receiver_id!r}")
    return found


def _answer(outbound: Outbound, tenant: str, receiver_id: str) -> Response:
    found = _receiver(outbound, tenant, receiver_id)
    return OrjsonResponse(
        {"id": receiver_id, "status": found["status"], "status_reason": found["status_reason"]}
    )


@router.post("/{receiver_id}/pause", summary="Pause a receiver (operators)")
def pause(receiver_id: str, outbound: OutboundDep, caller: Terminator) -> Response:
    """Hold the receiver's events until it is resumed; a disabled receiver answers 409."""
    found = _receiver(outbound, caller.tenant, receiver_id)
    if found["status"] == "disabled":
        raise ApiProblem(409, "receiver-disabled", "Conflict", "a disabled receiver holds nothing")
    receivers.set_status(outbound.store, receiver_id, "paused", f"paused by {caller.sub}")
    return _answer(outbound, caller.tenant, receiver_id)


@router.post("/{receiver_id}/resume", summary="Resume a paused or disabled receiver (operators)")
def resume(receiver_id: str, outbound: OutboundDep, caller: Terminator) -> Response:
    """Deliver again: held events go out in log order."""
    _receiver(outbound, caller.tenant, receiver_id)
    receivers.set_status(outbound.store, receiver_id, "enabled", None)
    outbound.wake()
    return _answer(outbound, caller.tenant, receiver_id)


@router.post("/{receiver_id}/requeue", summary="Redeliver from a log position (operators)")
def requeue(
    receiver_id: str, body: Redelivery, outbound: OutboundDep, caller: Terminator
) -> Response:
    """Send every message of the receiver again from `from_position` (same ids)."""
    _receiver(outbound, caller.tenant, receiver_id)
    count = queue.redeliver(outbound.store, receiver_id, from_position=body.from_position)
    outbound.wake()
    return OrjsonResponse({"id": receiver_id, "requeued": count})
