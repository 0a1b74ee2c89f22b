"""OpenID Connect Back-Channel Logout 1.0 receiver: `POST /v1/oidc/backchannel-logout`.

A thin router over the `oidc` inbound adapter (`ledger.inbound.oidc`, where the checks
are): a token whose issuer is an `oidc` connection's is verified with that connection's
keys and audience and lands in its tenant; any other with the settings' (`LEDGER_JWKS_*`,
`LEDGER_OIDC_ISSUER` or `LEDGER_JWT_ISSUER`, `LEDGER_BACKCHANNEL_AUDIENCE` or
`LEDGER_OIDC_CLIENT_ID` or `LEDGER_JWT_AUDIENCE`), its tenant from the tenant claim.
Answers 200, or 400 with `{"error": "invalid_request", "error_description": ...}`; both
`Cache-Control: no-store`. Tests: tests/api/test_backchannel.py, tests/inbound/test_oidc.py.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from ledger.api.context import get_context
from ledger.api.inbound import deliver, inbound_request, respond
from ledger.api.problems import error_responses
from ledger.inbound.oidc import MAX_TOKEN, unverified_issuer

router = APIRouter(prefix="/v1/oidc", tags=["oidc"])


class OAuthError(BaseModel):
    """The spec's error answer."""

    error: str
    error_description: str | None = None


FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"logout_token": {"type": "string", "maxLength": MAX_TOKEN}},
                "required": ["logout_token"],
            }
        }
    },
}


@router.post(
    "/backchannel-logout",
    response_class=Response,
    responses={
        200: {"description": "Logged out (or nothing to log out)"},
        400: {"model": OAuthError, "description": "Refused logout token"},
        **error_responses(413, 503),
    },
    openapi_extra={"requestBody": FORM},
    summary="OpenID Connect back-channel logout",
)
async def backchannel_logout(request: Request) -> Response:
    """Verify the logout token and end the session(s) it names."""
    context = get_context(request)
    inbound = await inbound_request(request)
    adapter = context.connections.oidc_for_issuer(unverified_issuer(inbound))
    reply = await run_in_threadpool(
        deliver, context, adapter or context.connections.legacy, inbound
    )
    return respond(reply)
