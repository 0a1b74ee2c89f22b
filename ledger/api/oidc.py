"""OpenID Connect Back-Channel Logout 1.0 receiver: `POST /v1/oidc/backchannel-logout`.

The OP posts a signed logout token (form field `logout_token`). It is verified against the
JWKS (`LEDGER_JWKS_FILE`/`LEDGER_JWKS_URL`; never the HMAC secret), its `iss`
(`LEDGER_OIDC_ISSUER`, else `LEDGER_JWT_ISSUER`), its `aud` (`LEDGER_BACKCHANNEL_AUDIENCE`,
else `LEDGER_OIDC_CLIENT_ID`, else `LEDGER_JWT_AUDIENCE`), `iat` (not older than
`LEDGER_BACKCHANNEL_MAX_AGE_S`), the back-channel `events` member, `sid` and/or `sub`, and
the absence of `nonce`. A `jti` seen before is refused (kept in the database, so across
restarts and workers). With `sid`, that session ends; with `sub` only, all the user's.
Reason `logout`, actor the issuer, cause `backchannel:<jti>`. Answers 200, or 400 with
`{"error": "invalid_request", "error_description": ...}`; both `Cache-Control: no-store`.
Tests: tests/api/test_backchannel.py.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

import jwt
from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ledger import validation as check
from ledger.aggregates.errors import SessionNotFound
from ledger.api.commands import run_command
from ledger.api.context import ApiContext, get_context
from ledger.api.keys import KeysUnavailable, TokenRefused
from ledger.api.problems import ApiProblem, error_responses
from ledger.api.responses import OrjsonResponse

router = APIRouter(prefix="/v1/oidc", tags=["oidc"])
EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYPES = frozenset({None, "JWT", "logout+jwt", "application/logout+jwt"})
NO_STORE = {"Cache-Control": "no-store"}
MAX_TOKEN = 4096  # real logout tokens are 1-2 KiB


class LogoutRefused(Exception):
    """The logout request is refused; the message is the `error_description`."""


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
    try:
        try:
            form = await request.form()
        except HTTPException:
            raise LogoutRefused("malformed form body") from None
        token = form.get("logout_token")
        if not isinstance(token, str) or not token:
            raise LogoutRefused("missing logout_token")
        if len(token) > MAX_TOKEN:
            raise LogoutRefused(f"logout_token longer than {MAX_TOKEN} characters")
        await run_in_threadpool(logout, context, token)
    except LogoutRefused as e:
        body = {"error": "invalid_request", "error_description": str(e)}
        return OrjsonResponse(body, status_code=400, headers=NO_STORE)
    except KeysUnavailable as e:
        raise ApiProblem(
            503, "unavailable", "Service unavailable", f"signing keys unavailable: {e}"
        ) from None
    return Response(status_code=200, headers=NO_STORE)


def verify_logout_token(context: ApiContext, token: str) -> dict[str, Any]:
    """The claims of a valid, first-seen logout token, or LogoutRefused."""
    settings, verifier = context.settings, context.verifier
    if not verifier.has_asymmetric_keys:
        raise LogoutRefused("back-channel logout needs LEDGER_JWKS_FILE or LEDGER_JWKS_URL")
    try:
        typ = jwt.get_unverified_header(token).get("typ")
    except jwt.PyJWTError:
        raise LogoutRefused("malformed token") from None
    if typ not in TYPES:
        raise LogoutRefused("not a logout token (typ)")
    try:
        claims = verifier.decode(
            token,
            audience=(
                settings.backchannel_audience or settings.oidc_client_id or settings.jwt_audience
            ),
            issuer=settings.oidc_issuer or settings.jwt_issuer,
            require=["iss", "aud", "iat", "jti", "events"],
            allow_hmac=False,
        )
    except TokenRefused as e:
        raise LogoutRefused(str(e)) from None
    _check_claims(claims, max_age=settings.backchannel_max_age_s, leeway=settings.jwt_leeway_s)
    return claims


def _check_claims(claims: dict[str, Any], *, max_age: int, leeway: int) -> None:
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(EVENT), dict):
        raise LogoutRefused(f"events claim lacks {EVENT}")
    if "nonce" in claims:
        raise LogoutRefused("a logout token must not carry a nonce")
    if claims.get("sid") is None and claims.get("sub") is None:
        raise LogoutRefused("a logout token needs sid or sub")
    for name in ("sid", "sub", "jti"):
        value = claims.get(name)
        if value is not None:
            try:
                check.external_id(value, what=name)
            except ValueError as e:
                raise LogoutRefused(str(e)) from None
    iat = claims["iat"]
    if not isinstance(iat, int | float) or iat < time.time() - max_age - leeway:
        raise LogoutRefused(f"logout token issued more than {max_age} s ago")
    if not isinstance(claims["iss"], str) or not claims["iss"]:
        raise LogoutRefused("invalid iss")


def logout(context: ApiContext, token: str) -> None:
    """Verify, refuse a replay, then record the logout(s)."""
    claims = verify_logout_token(context, token)
    settings, store = context.settings, context.jti_store
    issuer, jti = claims["iss"], claims["jti"]
    try:
        tenant = check.tenant(claims.get(settings.tenant_claim, "default"))
    except ValueError as e:
        raise LogoutRefused(str(e)) from None
    window = max(float(claims.get("exp") or 0), claims["iat"] + settings.backchannel_max_age_s)
    until = datetime.fromtimestamp(window + settings.jwt_leeway_s, UTC)
    assert store is not None
    if not store.remember(issuer, jti, until=until, now=datetime.now(UTC)):
        raise LogoutRefused("logout token replayed (jti already seen)")
    try:
        _terminate(context, tenant=tenant, claims=claims)
    except BaseException:
        store.forget(issuer, jti)
        raise


def _terminate(context: ApiContext, *, tenant: str, claims: dict[str, Any]) -> None:
    ledger = context.ready_system().ledger
    sid, sub = claims.get("sid"), claims.get("sub")
    actor, cause = claims["iss"][:255], f"backchannel:{claims['jti']}"
    if sid is not None:
        with contextlib.suppress(SessionNotFound):  # unknown: the OP learns nothing
            run_command(
                context,
                "backchannel_logout",
                lambda: ledger.terminate_session(
                    tenant=tenant,
                    session_id=sid,
                    reason="logout",
                    actor=actor,
                    cause=cause,
                    user_id=sub,
                ),
            )
        return
    assert sub is not None
    run_command(
        context,
        "backchannel_logout",
        lambda: ledger.terminate_all(
            tenant=tenant, user_id=sub, reason="logout", actor=actor, cause=cause
        ),
    )
