"""The query parameters that select open sessions of the tenant, shared by the console's reads.

`GET /v1/sessions`, `/v1/sessions/summary` and `/v1/sessions/export` take the same filters:
user id (exact or prefix), application, address (exact, or an address or CIDR range in
`network`), signed in after / before. Every value is checked here: a bad one is a 422
problem, never a 500. Tests: tests/api/test_console_api.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from ledger import validation as check
from ledger.api.schemas import IdQuery, IpQuery, Time
from ledger.projections.session_search import SessionFilter
from ledger.validation import ID_PATTERN

PrefixQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=255, pattern=ID_PATTERN, description="User id prefix."),
]
NetworkQuery = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=64,
        description="An IP address or a CIDR range (`203.0.113.0/24`, `2001:db8::/32`).",
    ),
]


async def session_filter(
    *,
    user_id: IdQuery = None,
    user_prefix: PrefixQuery = None,
    application_id: IdQuery = None,
    ip: IpQuery = None,
    network: NetworkQuery = None,
    started_after: Annotated[Time | None, Query(description="Signed in at or after.")] = None,
    started_before: Annotated[Time | None, Query(description="Signed in before.")] = None,
) -> SessionFilter:
    """The filters of a request, checked (InvalidInput -> 422)."""
    return SessionFilter(
        user_id=user_id,
        user_prefix=check.external_id(user_prefix, what="user_prefix") if user_prefix else None,
        application_id=application_id,
        ip=check.ip(ip),
        network=check.network(network),
        started_after=started_after,
        started_before=started_before,
    )


Filters = Annotated[SessionFilter, Depends(session_filter)]
