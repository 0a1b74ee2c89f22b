"""Bearer-token authentication and scopes: who calls, in which tenant, allowed to do what.

`CurrentPrincipal` verifies `Authorization: Bearer <JWT>` (see `ledger.keys.verifier`) and reads
`sub`, `scope`, the tenant claim (`LEDGER_TENANT_CLAIM`, `default` when absent) and `sid`.
The tenant comes from the token only, never from the request. `require_scope("sessions:me")`
makes a dependency that also checks the scope (403 otherwise). Missing or bad tokens are a
401 with `WWW-Authenticate: Bearer`. The web pages use these same dependencies.
They are `async def`, run inline on the event loop: verifying a token is CPU work; fetching
the keys of `LEDGER_JWKS_URL` goes to the loop's executor, one fetch shared by all waiting
requests. A token verified a moment ago is not verified again until its `exp`
(`ledger.api.verified`), but a token whose `sid` names a session is checked on every
request: a session that is not active (ended, expired, unknown, or another user's) makes
the token invalid (`ledger.api.sessions`). Access tokens must not be typed as anything else
(RFC 8725 §3.11: `typ` absent, `JWT` or `at+jwt`), must carry no `events` (a SET or logout
token), and may not live longer than `LEDGER_JWT_MAX_LIFETIME_S`.
Tests: tests/api/test_security.py, tests/security/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger import validation as check
from ledger.api.context import ApiContext, ContextDep, get_context
from ledger.api.problems import ApiProblem, keys_unavailable
from ledger.api.scopes import Scope
from ledger.api.sessions import check_current_session
from ledger.keys.verifier import KeyNotCached, KeysUnavailable, TokenRefused, TokenVerifier

ME, READ, TERMINATE, AUDIT, INGEST = (
    Scope.ME,
    Scope.READ,
    Scope.TERMINATE,
    Scope.AUDIT,
    Scope.INGEST,
)
SSF_MANAGE, SSF_READ, WEBHOOKS_MANAGE = Scope.SSF_MANAGE, Scope.SSF_READ, Scope.WEBHOOKS_MANAGE
REALM = 'Bearer realm="session-ledger"'
bearer = HTTPBearer(
    auto_error=False, bearerFormat="JWT", description="A JWT (see README.md, Authentication)"
)


@dataclass(frozen=True)
class Principal:
    """The caller: a user, an admin or the IdP, as its token says."""

    sub: str
    tenant: str
    scopes: frozenset[str]
    sid: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def unauthorized(detail: str, *, error: str | None = "invalid_token") -> ApiProblem:
    """A 401 problem with the RFC 6750 challenge."""
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return ApiProblem(
        401, "unauthorized", "Unauthorized", detail, headers={"WWW-Authenticate": challenge}
    )


def principal_from_token(verifier: TokenVerifier, token: str, *, fetch: bool = True) -> Principal:
    """Verify `token` and read the caller from it (TokenRefused when unacceptable).

    With `fetch=False` it does no I/O: KeyNotCached when a JWKS key must be fetched first.
    """
    settings = verifier.settings
    check_access_token_type(token)
    claims = verifier.decode(
        token,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        require=["exp", "sub"],
        fetch=fetch,
    )
    check_lifetime(claims, max_lifetime_s=settings.jwt_max_lifetime_s, leeway=settings.jwt_leeway_s)
    if "events" in claims:  # a Security Event Token or a logout token (RFC 8417 §2.2)
        raise TokenRefused("not an access token")
    try:
        sub = check.external_id(claims["sub"], what="sub")
        tenant = check.tenant(claims.get(settings.tenant_claim, "default"))
        sid = claims.get("sid")
        if sid is not None:
            sid = check.external_id(sid, what="sid")
    except ValueError as e:
        raise TokenRefused(f"invalid claim: {e}") from None
    raw = claims.get("scope", "")
    if isinstance(raw, str):
        scopes = frozenset(raw.split())
    elif isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        scopes = frozenset(raw)
    else:
        raise TokenRefused("invalid scope claim")
    return Principal(sub=sub, tenant=tenant, scopes=scopes, sid=sid, claims=claims)


ACCESS_TOKEN_TYPES = frozenset({"jwt", "at+jwt", "application/at+jwt"})  # RFC 9068 §2.1


def check_access_token_type(token: str) -> None:
    """RFC 8725 §3.11: a token typed as something else (`logout+jwt`, ...) is refused."""
    try:
        typ = jwt.get_unverified_header(token).get("typ")
    except jwt.PyJWTError:
        raise TokenRefused("malformed token") from None
    if not (typ is None or (isinstance(typ, str) and typ.lower() in ACCESS_TOKEN_TYPES)):
        raise TokenRefused("not an access token")


def check_lifetime(claims: dict[str, Any], *, max_lifetime_s: int, leeway: int) -> None:
    """`exp` no further than `max_lifetime_s` after `iat` (or after now, without `iat`)."""
    exp, iat = claims.get("exp"), claims.get("iat")
    start = iat if isinstance(iat, int | float) and not isinstance(iat, bool) else time.time()
    if not isinstance(exp, int | float) or exp - start > max_lifetime_s + leeway:
        raise TokenRefused("token lifetime exceeds the maximum")


async def verify_bearer(context: ApiContext, token: str) -> Principal:
    """The principal of a valid token (cached until `exp`; keys fetched off the loop)."""
    verifier = context.verifier
    if context.principals_keys_version != verifier.keys_version:  # a key was withdrawn
        context.principals.clear()
        context.principals_keys_version = verifier.keys_version
    known = context.principals.get(token)
    if known is not None:  # verified a moment ago (see ledger.api.verified)
        return known
    try:
        try:
            principal = principal_from_token(verifier, token, fetch=False)
        except KeyNotCached:  # fetched over HTTP, once for all waiting requests
            assert verifier.url_keys is not None
            await verifier.url_keys.refresh_async()
            principal = principal_from_token(verifier, token, fetch=False)
    except TokenRefused as e:
        raise unauthorized(str(e)) from None
    except (KeysUnavailable, KeyNotCached) as e:
        raise keys_unavailable(e, retry_after=_retry_after(verifier)) from None
    context.principals.put(token, principal, exp=principal.claims.get("exp"))
    return principal


def _retry_after(verifier: TokenVerifier) -> int:
    return verifier.url_keys.retry_after() if verifier.url_keys is not None else 5


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def current_principal(context: ContextDep, credentials: Credentials) -> Principal:
    """The caller of this request (401 without a valid token, or one of an ended session)."""
    return await authenticate(context, credentials)


async def authenticate(
    context: ApiContext, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """`current_principal`'s work, for dependencies that resolve the context themselves."""
    if credentials is None:
        raise unauthorized("send Authorization: Bearer <token>", error=None)
    principal = await verify_bearer(context, credentials.credentials)
    # a database read on every request: the session may have ended
    if principal.sid is not None and not await check_current_session(context, principal):
        raise unauthorized("session ended")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_scope(
    scope: str,
) -> Callable[[Request, HTTPAuthorizationCredentials | None], Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller when its token carries `scope` (else 403)."""

    async def dependency(request: Request, credentials: Credentials) -> Principal:
        # one dependency, not three: FastAPI's dependency resolution costs CPU per level
        context = get_context(request)
        principal = await authenticate(context, credentials)
        check_scope(principal, scope)
        if scope == ME and principal.sid is None and context.settings.require_sid:
            raise unauthorized("token has no sid")
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


def check_scope(principal: Principal, scope: str) -> None:
    """A 403 problem naming `scope` unless the token carries it."""
    if scope not in principal.scopes:
        raise ApiProblem(
            403,
            "insufficient-scope",
            "Forbidden",
            f"the token lacks the scope {scope}",
            headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'},
        )


async def metrics_caller(context: ContextDep, request: Request) -> None:
    """With `LEDGER_METRICS_SCOPE` set, `/metrics` needs a token carrying that scope.

    The header is read here, not declared: the endpoint is open by default, and the OpenAPI
    document says what the default is.
    """
    scope = context.settings.metrics_scope
    if scope is not None:
        check_scope(await current_principal(context, await bearer(request)), scope)


MeCaller = Annotated[Principal, Depends(require_scope(ME))]
Reader = Annotated[Principal, Depends(require_scope(READ))]
Terminator = Annotated[Principal, Depends(require_scope(TERMINATE))]
Auditor = Annotated[Principal, Depends(require_scope(AUDIT))]
Ingestor = Annotated[Principal, Depends(require_scope(INGEST))]
