"""What every request handler reaches: the ledger system, the token verifier, the metrics.

`ApiContext` lives on `app.state.ledger` from startup to shutdown; handlers get it with the
`ContextDep` dependency (no globals); the dependencies are `async def` because they do no
I/O, so FastAPI runs them inline instead of in its thread pool. `dev_mode` is True when
tokens are verified with the development secret (the web pages offer their development
sign-in only then).
Tests: tests/api/test_tokens.py (dev mode), tests/api/test_ops.py (503 while not ready).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from ledger.api.metrics import Metrics
from ledger.api.problems import ApiProblem
from ledger.api.verified import VerifiedTokens
from ledger.bootstrap import LedgerSystem
from ledger.config import Settings
from ledger.inbound.connections import Connections
from ledger.inbound.seam import Inbound
from ledger.keys.verifier import TokenVerifier

if TYPE_CHECKING:
    from ledger.api.auth import Principal


@dataclass
class ApiContext:
    """The per-application state of the API."""

    settings: Settings
    verifier: TokenVerifier
    metrics: Metrics
    dev_mode: bool
    connections: Connections
    system: LedgerSystem | None = None
    seam: Inbound | None = None
    principals: VerifiedTokens[Principal] = field(init=False, repr=False)
    principals_keys_version: int = 0  # the verifier's keys_version `principals` were made with

    def __post_init__(self) -> None:
        self.principals = VerifiedTokens(
            leeway_s=self.settings.jwt_leeway_s, clock=self._token_clock
        )

    def _token_clock(self) -> float:
        """The verifier's clock, read late: the token cache and the verifier share one clock
        (a test may set `verifier.clock`)."""
        return self.verifier.clock()

    def ready_system(self) -> LedgerSystem:
        """The ledger system, or a 503 while the application is starting or stopping."""
        if self.system is None:
            raise ApiProblem(503, "unavailable", "Service unavailable", "the ledger is starting")
        return self.system

    def inbound(self) -> Inbound:
        """The inbound seam (with its seen-messages store), or a 503 while not running."""
        if self.seam is None:
            raise ApiProblem(503, "unavailable", "Service unavailable", "the ledger is starting")
        return self.seam

    def now(self) -> datetime:
        """The ledger's clock."""
        return self.ready_system().clock()


def get_context(request: Request) -> ApiContext:
    """The `ApiContext` of the application serving `request`."""
    context: ApiContext = request.app.state.ledger
    return context


async def context_dependency(request: Request) -> ApiContext:
    """`get_context` as a dependency (async: FastAPI runs it inline, not in a thread)."""
    return get_context(request)


ContextDep = Annotated[ApiContext, Depends(context_dependency)]


async def get_system(request: Request) -> LedgerSystem:
    """The ledger system (503 while not ready)."""
    return get_context(request).ready_system()


SystemDep = Annotated[LedgerSystem, Depends(get_system)]
