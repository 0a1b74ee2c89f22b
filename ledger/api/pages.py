"""The web pages: the console's and my account's "Active sessions", sign-in, and their JSON.

Serves the HTML of `static/pages/` (its CSS and JavaScript come from `/static/pages/`) with
security headers: a Content-Security-Policy that allows no inline script, no framing, no
referrer. Small JSON endpoints under `/web/` serve the pages: the sign-in options, the
development sign-in (only when the API verifies tokens with its development secret, else
404) and device labels parsed from user agents ("Firefox on Windows"). The console's user
search uses `GET /v1/users` of the admin router. The pages call the v1 API with a bearer
token held in sessionStorage, never in a URL.
Tests: tests/browser/, tests/api/test_pages_http.py.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import orjson
import ua_parser
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from ledger import validation as check
from ledger.aggregates.rules import REASON_LABELS
from ledger.api.auth import CurrentPrincipal
from ledger.api.context import ContextDep, SystemDep
from ledger.api.problems import ApiProblem, Problem, error_responses
from ledger.api.responses import OrjsonResponse
from ledger.api.scopes import PageScope, Scope
from ledger.config import Settings
from ledger.keys.dev_tokens import mint_token
from ledger.validation import MAX_USER_AGENT

PAGES_DIR = Path(__file__).parent / "static" / "pages"
DEV_TOKEN_TTL_S = 8 * 3600
DEV_APPLICATION = {"id": "session-ledger-web", "name": "Session Ledger (development sign-in)"}
NO_STORE = {"Cache-Control": "no-store"}

router = APIRouter()


# --------------------------------------------------------------------- pages


def content_security_policy(settings: Settings) -> str:
    """The pages' CSP: own scripts and styles only; the OIDC issuer may be fetched."""
    connect = ["'self'"]
    if settings.oidc_issuer:
        parts = urlsplit(settings.oidc_issuer)
        if parts.scheme in ("https", "http") and parts.netloc:
            connect.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src {' '.join(connect)}",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers on every page."""
    return {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cache-Control": "no-store",
    }


@lru_cache(maxsize=8)
def _page_html(name: str) -> bytes:
    return (PAGES_DIR / f"{name}.html").read_bytes()


def page(name: str, settings: Settings) -> HTMLResponse:
    """One of the static pages, with the security headers."""
    return HTMLResponse(_page_html(name), headers=security_headers(settings))


@router.get("/console", include_in_schema=False)
def overview_page(context: ContextDep) -> HTMLResponse:
    """The console's landing page: every open session of the tenant, counts, charts, live."""
    return page("overview", context.settings)


@router.get("/console/receivers", include_in_schema=False)
def receivers_page(context: ContextDep) -> HTMLResponse:
    """The console's receivers: SSF streams, webhooks (and any other kind listed), their state."""
    return page("receivers", context.settings)


@router.get("/console/users", include_in_schema=False)
@router.get("/console/users/{user_id}/sessions", include_in_schema=False)
def console_page(context: ContextDep) -> HTMLResponse:
    """The console: a user search, a user's open sessions and their history."""
    return page("console", context.settings)


@router.get("/myaccount/sessions", include_in_schema=False)
def myaccount_page(context: ContextDep) -> HTMLResponse:
    """My account > Security > Active sessions."""
    return page("myaccount", context.settings)


@router.get("/signin", include_in_schema=False)
def signin_page(context: ContextDep) -> HTMLResponse:
    """Sign-in (OpenID Connect, or the development sign-in); also the OIDC redirect URI."""
    return page("signin", context.settings)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    """The service's root leads to my sessions (and so to sign-in)."""
    return RedirectResponse("/myaccount/sessions", status_code=307)


@router.get("/myaccount", include_in_schema=False)
@router.get("/console/users/{user_id}", include_in_schema=False)
def page_redirect(request: Request) -> RedirectResponse:
    """Short paths lead to the sessions pages."""
    return RedirectResponse(request.url.path.rstrip("/") + "/sessions", status_code=307)


# ---------------------------------------------------------------- sign-in


class OidcOptions(BaseModel):
    """Where the browser signs in with OpenID Connect."""

    issuer: str
    client_id: str


class SigninOptions(BaseModel):
    """The sign-in methods this server offers the pages."""

    dev_signin: bool
    oidc: OidcOptions | None


@router.get("/web/config", tags=["web pages"])
def signin_options(context: ContextDep, request: Request) -> SigninOptions:
    """The sign-in options: OpenID Connect (when configured) and the development sign-in."""
    s = context.settings
    oidc = None
    if s.oidc_issuer and s.oidc_client_id:
        oidc = OidcOptions(issuer=s.oidc_issuer, client_id=s.oidc_client_id)
    dev = context.dev_mode and _dev_signin_allowed(request, s)
    return SigninOptions(dev_signin=dev, oidc=oidc)


def _default_scopes() -> list[PageScope]:
    return [PageScope.ME]


class DevSignin(BaseModel):
    """Whom to sign in as, in development mode."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(min_length=1, max_length=255)
    tenant: str = Field("default", min_length=1, max_length=255)
    scopes: list[Annotated[PageScope, Field(strict=False)]] = Field(
        default_factory=_default_scopes, max_length=4
    )
    start_session: bool = True


class DevToken(BaseModel):
    """A development token for the pages."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int
    sid: str | None


def _client_ip(request: Request) -> str | None:
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


def _dev_signin_allowed(request: Request, settings: Settings) -> bool:
    """Only for loopback clients (a server bound elsewhere needs the loud override).

    A peer that has no IP address (a Unix socket, the test client) counts as local.
    """
    host = request.client.host if request.client else None
    try:
        remote = ipaddress.ip_address(host) if host else None
    except ValueError:
        return True
    return remote is None or remote.is_loopback or settings.unsafe_dev_mode_exposed


DEV_SIGNIN_ERRORS = error_responses(400, 413, 422, 503) | {
    404: {"model": Problem, "description": "Not in development mode"}
}


@router.post("/web/dev-signin", tags=["web pages"], responses=DEV_SIGNIN_ERRORS)
def dev_signin(
    body: DevSignin, request: Request, context: ContextDep, system: SystemDep
) -> OrjsonResponse:
    """Development mode only: a token for any user and scopes (404 otherwise).

    With `start_session`, a session is recorded for the calling browser first, as an
    identity provider would at sign-in, and the token's `sid` names it ("this session").
    """
    if not context.dev_mode or not _dev_signin_allowed(request, context.settings):
        raise HTTPException(404, "the development sign-in is off: the server is not in dev mode")
    try:
        user_id = check.external_id(body.user_id.strip(), what="user_id")
        tenant = check.tenant(body.tenant.strip())
    except ValueError as e:
        raise ApiProblem(422, "invalid-input", "Invalid input", str(e)) from None
    sid = None
    if body.start_session:
        outcome = system.ledger.start_session(
            tenant=tenant,
            user_id=user_id,
            ip=_client_ip(request),
            user_agent=(request.headers.get("user-agent") or "")[:MAX_USER_AGENT] or None,
            application=DEV_APPLICATION,
            auth_methods=["dev"],
        )
        system.wait(outcome.position)
        sid = outcome.session.id if outcome.session else None
    scopes = [s.value for s in PageScope if s in body.scopes]
    ttl = min(DEV_TOKEN_TTL_S, context.settings.jwt_max_lifetime_s)
    token = mint_token(
        context.settings, sub=user_id, scope=" ".join(scopes), tenant=tenant, sid=sid, ttl=ttl
    )
    result = DevToken(access_token=token, expires_in=ttl, sid=sid)
    return OrjsonResponse(result.model_dump(), headers=NO_STORE)


# ---------------------------------------------------------------- devices


OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}
APPLE_DEVICES = ("iPhone", "iPad", "iPod")


@lru_cache(maxsize=4096)
def device_label(user_agent: str) -> str:
    """ "Firefox on Windows": the browser and the system of a user agent, in words."""
    result = ua_parser.parse(user_agent)
    browser = result.user_agent.family if result.user_agent else None
    system = result.os.family if result.os else None
    device = result.device.family if result.device else None
    if system == "iOS" and device in APPLE_DEVICES:
        system = device
    system = OS_NAMES.get(system or "", system)
    browser = None if browser in (None, "Other") else browser
    system = None if system in (None, "Other") else system
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return str(browser)
    return f"Unknown browser on {system}" if system else "Unknown browser"


class DeviceQuery(BaseModel):
    """User agents to describe."""

    model_config = ConfigDict(extra="forbid")

    user_agents: list[Annotated[str, Field(max_length=MAX_USER_AGENT)]] = Field(max_length=500)


class DeviceLabels(BaseModel):
    """One label per user agent, in the same order."""

    devices: list[str]


@router.post("/web/devices", tags=["web pages"], responses=error_responses(400, 401, 413, 422))
def devices(body: DeviceQuery, caller: CurrentPrincipal) -> DeviceLabels:
    """ "Firefox on Windows" for each user agent (any signed-in caller)."""
    del caller
    return DeviceLabels(devices=[device_label(ua) for ua in body.user_agents])


@router.get("/web/vocabulary.js", include_in_schema=False)
def vocabulary_module() -> Response:
    """The reasons' labels and the scopes as a JavaScript module: the pages import them."""
    reasons = {reason.value: label for reason, label in REASON_LABELS.items()}
    scopes = {scope.name: scope.value for scope in Scope}
    body = (
        "// Made by the ledger from its definitions (ledger/aggregates/rules.py, api/scopes.py).\n"
        f"export const REASONS = Object.freeze({orjson.dumps(reasons).decode()});\n"
        f"export const SCOPES = Object.freeze({orjson.dumps(scopes).decode()});\n"
    )
    headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type="text/javascript", headers=headers)
