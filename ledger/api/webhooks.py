"""Standard Webhooks endpoints at `/v1/webhooks` (scope `webhooks:manage`), and what
operators see of deliveries at `/v1/outbound/deliveries` (scope `sessions:audit`).

Registering returns the endpoint's `whsec_` secret (Standard Webhooks "Symmetric signatures":
24-64 random bytes, base64) once; it is never shown again. A caller sees and changes only the
endpoints it registered, in its own tenant. URLs pass the SSRF guard when registered and again
on every delivery. Tests: tests/outbound/test_webhooks.py.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.responses import Response

from ledger.api.auth import (
    AUDIT,
    SSF_MANAGE,
    WEBHOOKS_MANAGE,
    CurrentPrincipal,
    Principal,
    require_scope,
)
from ledger.api.problems import ApiProblem, error_responses
from ledger.api.responses import OrjsonResponse
from ledger.api.ssf import outbound_of
from ledger.outbound import queue, receivers
from ledger.outbound.http import url_problem
from ledger.outbound.metrics import delivery_stats
from ledger.outbound.runtime import Outbound
from ledger.outbound.signals import WEBHOOK_TYPES
from ledger.outbound.store import SSF, WEBHOOK

router = APIRouter(tags=["webhooks"], responses=error_responses(400, 401, 403, 404, 413, 422, 503))
Manager = Annotated[Principal, Depends(require_scope(WEBHOOKS_MANAGE))]
Operator = Annotated[Principal, Depends(require_scope(AUDIT))]
OutboundDep = Annotated[Outbound, Depends(outbound_of)]


class WebhookIn(BaseModel):
    """A webhook endpoint to register."""

    url: str = Field(max_length=2048)
    event_types: list[str] = Field(min_length=1)
    description: str | None = Field(None, max_length=1024)


class WebhookChange(BaseModel):
    """Members to change (all optional)."""

    url: str | None = Field(None, max_length=2048)
    event_types: list[str] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=1024)
    status: str | None = None


class Redelivery(BaseModel):
    """Where redelivery starts."""

    from_position: int = Field(ge=0)


def _check(outbound: Outbound, url: str | None, event_types: list[str] | None) -> None:
    if url is not None:
        problem = url_problem(url, allow_private=outbound.allow_private)
        if problem is not None:
            raise ApiProblem(400, "bad-request", "Bad request", f"url: {problem}")
    unknown = sorted(set(event_types or []) - set(WEBHOOK_TYPES))
    if unknown:
        detail = f"event_types: unknown {', '.join(unknown)}; known: {', '.join(WEBHOOK_TYPES)}"
        raise ApiProblem(400, "bad-request", "Bad request", detail)


def _shown(r: dict[str, Any]) -> dict[str, Any]:
    config = r["config"]
    return {
        "id": r["receiver_id"],
        "url": config["url"],
        "event_types": config["event_types"],
        "description": config.get("description"),
        "status": r["status"],
        "status_reason": r["status_reason"],
    }


def _mine(outbound: Outbound, principal: Principal, webhook_id: str) -> dict[str, Any]:
    found = receivers.get(outbound.store, webhook_id, tenant=principal.tenant, owner=principal.sub)
    if found is None or found["kind"] != WEBHOOK:
        raise ApiProblem(404, "not-found", "Not found", f"no webhook {webhook_id!r}")
    return found


@router.post("/v1/webhooks", status_code=201, summary="Register a webhook endpoint")
def register(outbound: OutboundDep, principal: Manager, body: WebhookIn) -> Response:
    """The endpoint gets the events recorded from now on; the secret is shown this once."""
    _check(outbound, body.url, body.event_types)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    config = {"url": body.url, "event_types": sorted(set(body.event_types)),
              "description": body.description}  # fmt: skip
    found = receivers.create(
        outbound.store, receiver_id=str(uuid.uuid4()), kind=WEBHOOK, tenant=principal.tenant,
        owner=principal.sub, config=config, from_position=outbound.head(), secret=secret,
    )  # fmt: skip
    return OrjsonResponse({**_shown(found), "secret": secret}, status_code=201)


@router.get("/v1/webhooks", summary="The caller's webhook endpoints")
def list_webhooks(outbound: OutboundDep, principal: Manager) -> Response:
    """Every endpoint the caller registered (no secrets)."""
    found = receivers.find(
        outbound.store, tenant=principal.tenant, owner=principal.sub, kind=WEBHOOK
    )
    return OrjsonResponse({"webhooks": [_shown(r) for r in found]})


@router.get("/v1/webhooks/{webhook_id}", summary="One webhook endpoint")
def read_webhook(outbound: OutboundDep, principal: Manager, webhook_id: str) -> Response:
    """One endpoint (no secret)."""
    return OrjsonResponse(_shown(_mine(outbound, principal, webhook_id)))


@router.patch("/v1/webhooks/{webhook_id}", summary="Change a webhook endpoint")
def change_webhook(
    outbound: OutboundDep, principal: Manager, webhook_id: str, body: WebhookChange
) -> Response:
    """Change URL, event types, description, or status (`enabled`, `disabled`)."""
    found = _mine(outbound, principal, webhook_id)
    _check(outbound, body.url, body.event_types)
    config = dict(found["config"])
    for name in ("url", "event_types", "description"):
        value = getattr(body, name)
        if value is not None:
            config[name] = value
    receivers.replace_config(outbound.store, webhook_id, config)
    if body.status is not None:
        if body.status not in ("enabled", "disabled"):
            raise ApiProblem(400, "bad-request", "Bad request", "status: enabled or disabled")
        receivers.set_status(outbound.store, webhook_id, body.status, None)
    return OrjsonResponse(_shown(_mine(outbound, principal, webhook_id)))


@router.delete("/v1/webhooks/{webhook_id}", status_code=204, summary="Delete a webhook")
def delete_webhook(outbound: OutboundDep, principal: Manager, webhook_id: str) -> Response:
    """Forget the endpoint and what it held."""
    receivers.delete(outbound.store, _mine(outbound, principal, webhook_id)["receiver_id"])
    return Response(status_code=204)


@router.get("/v1/outbound/deliveries", summary="Deliveries per receiver (operators)")
def deliveries(outbound: OutboundDep, principal: Operator) -> Response:
    """Per stream, webhook and enforcing IdP connection of the tenant: lag, backlog, last
    success and error, attempts, deliveries and (IdPs) sessions already gone there."""
    return OrjsonResponse({"receivers": delivery_stats(outbound, tenant=principal.tenant)})


@router.post("/v1/outbound/receivers/{receiver_id}/redeliver", summary="Redeliver from a position")
def redeliver(
    outbound: OutboundDep, principal: CurrentPrincipal, receiver_id: str, body: Redelivery
) -> Response:
    """Send again every message of the caller's stream (`ssf.manage`) or webhook
    (`webhooks:manage`) from log position `from_position`; duplicates keep their ids."""
    found = receivers.get(outbound.store, receiver_id, tenant=principal.tenant, owner=principal.sub)
    needed = SSF_MANAGE if found is not None and found["kind"] == SSF else WEBHOOKS_MANAGE
    if found is None or found["kind"] not in (SSF, WEBHOOK) or needed not in principal.scopes:
        raise ApiProblem(404, "not-found", "Not found", f"no receiver {receiver_id!r} of yours")
    count = queue.redeliver(outbound.store, receiver_id, from_position=body.from_position)
    outbound.wake()
    return OrjsonResponse({"id": receiver_id, "requeued": count})
