"""Bearer-token authentication and scopes: who calls, in which tenant, allowed to do what.

`CurrentPrincipal` verifies `Authorization: Bearer <JWT>` (see `ledger.api.keys`) and reads
`sub`, `scope`, the tenant claim (`LEDGER_TENANT_CLAIM`, `default` when absent) and `sid`.
The tenant comes from the token only, never from the request. `require_scope("sessions:me")`
makes a dependency that also checks the scope (403 otherwise). Missing or bad tokens are a
401 with `WWW-Authenticate: Bearer`. The web pages use these same dependencies.
They are `async def`, run inline on the event loop: verifying a token is CPU work, except
fetching a key from `LEDGER_JWKS_URL`, which alone goes to a worker thread. A token
verified a moment ago is not verified again until its `exp` (`ledger.api.verified`).
Tests: tests/api/test_security.py.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ledger import validation as check
from ledger.api.context import ContextDep
from ledger.api.keys import KeyNotCached, KeysUnavailable, TokenRefused, TokenVerifier
from ledger.api.problems import ApiProblem
from ledger.api.scopes import Scope

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
    claims = verifier.decode(
        token,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        require=["exp", "sub"],
        fetch=fetch,
    )
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


async def current_principal(
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller of this request (401 without a valid bearer token)."""
    if credentials is None:
        raise unauthorized("send Authorization: Bearer <token>", error=None)
    token = credentials.credentials
    known = context.principals.get(token)
    if known is not None:  # verified a moment ago (see ledger.api.verified)
        return known
    try:
        try:
            principal = principal_from_token(context.verifier, token, fetch=False)
        except KeyNotCached:  # the key is fetched over HTTP: not on the event loop
            principal = await run_in_threadpool(principal_from_token, context.verifier, token)
    except TokenRefused as e:
        raise unauthorized(str(e)) from None
    except KeysUnavailable as e:
        raise ApiProblem(
            503, "unavailable", "Service unavailable", f"signing keys unavailable: {e}"
        ) from None
    context.principals.put(token, principal, exp=principal.claims.get("exp"))
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_scope(scope: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency returning the caller when its token carries `scope` (else 403)."""

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if scope not in principal.scopes:
            raise ApiProblem(
                403,
                "insufficient-scope",
                "Forbidden",
                f"the token lacks the scope {scope}",
                headers={
                    "WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{scope}"'
                },
            )
        return principal

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency


MeCaller = Annotated[Principal, Depends(require_scope(ME))]
Reader = Annotated[Principal, Depends(require_scope(READ))]
Terminator = Annotated[Principal, Depends(require_scope(TERMINATE))]
Auditor = Annotated[Principal, Depends(require_scope(AUDIT))]
Ingestor = Annotated[Principal, Depends(require_scope(INGEST))]
