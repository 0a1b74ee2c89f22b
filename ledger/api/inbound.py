"""Identity providers' connections: `GET` and `POST /v1/inbound/{name}`, thin over the seam.

The handler reads the raw request, hands it to the connection's adapter through
`ledger.inbound.seam.Inbound` (in a worker thread: verification may fetch keys, commands
write), and answers what the adapter says, in the sender's own protocol. An unknown
connection is a 404. Tests: tests/inbound/.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ledger.aggregates.errors import ConcurrencyConflict
from ledger.api.commands import run_command
from ledger.api.context import ApiContext, get_context
from ledger.api.keys import KeysUnavailable
from ledger.api.problems import ApiProblem, error_responses, keys_unavailable
from ledger.inbound.seam import Adapter, InboundRequest, Reply

router = APIRouter(prefix="/v1/inbound", tags=["inbound"])
NAME = {"description": "The connection's name in LEDGER_CONNECTIONS_FILE"}


def adapter_of(context: ApiContext, name: str) -> Adapter:
    """The connection's adapter, or a 404."""
    adapter = context.connections.get(name)
    if adapter is None:
        raise ApiProblem(404, "not-found", "Not found", f"no connection {name[:64]!r}")
    return adapter


async def inbound_request(request: Request) -> InboundRequest:
    """The sender's request as the adapters read it."""
    return InboundRequest(
        method=request.method,
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        body=await request.body(),
        url=str(request.url),
    )


def respond(reply: Reply) -> Response:
    """The adapter's answer as an HTTP response."""
    return Response(
        reply.body, status_code=reply.status, media_type=reply.media_type, headers=reply.headers
    )


def deliver(context: ApiContext, adapter: Adapter, request: InboundRequest) -> Reply:
    """Run the request through the seam onto the ledger: a 503 (which senders retry) when
    keys cannot be had or concurrent commands kept conflicting, never a 4xx they drop."""
    system = context.ready_system()
    try:
        return context.inbound().receive(
            adapter,
            request,
            ledger=system.ledger,
            run=lambda name, command: run_command(context, name, command),
        )
    except KeysUnavailable as e:
        raise keys_unavailable(e, retry_after=5) from None
    except ConcurrencyConflict as e:
        raise ApiProblem(503, "unavailable", "Service unavailable", str(e)) from None


@router.get(
    "/{name}",
    response_class=Response,
    responses={
        200: {"description": "The subscription check's challenge"},
        **error_responses(400, 404),
    },
    summary="A connection's subscription check (WebSub hub.challenge)",
)
async def subscription_check(name: str, request: Request) -> Response:
    """Answer a sender's subscription check (WSO2 / Asgardeo WebSub)."""
    adapter = adapter_of(get_context(request), name)
    return respond(adapter.challenge(await inbound_request(request)))


@router.post(
    "/{name}",
    response_class=Response,
    responses={
        200: {"description": "Received (recorded, seen before, or not used)"},
        202: {"description": "Received (RFC 8935 push)"},
        **error_responses(400, 401, 404, 413, 503),
    },
    summary="A message from an identity provider's connection",
)
async def receive(name: str, request: Request) -> Response:
    """Verify the sender, drop what was seen, record what the message says."""
    context = get_context(request)
    adapter = adapter_of(context, name)
    reply = await run_in_threadpool(deliver, context, adapter, await inbound_request(request))
    return respond(reply)
