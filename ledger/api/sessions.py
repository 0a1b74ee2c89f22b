"""The rule the ledger applies to itself: a token is only as alive as the session it names.

A bearer token whose `sid` claim names a session is accepted only while that session is
active and belongs to the token's `sub`, in the token's tenant: once the session ends (the
user, an admin, a password reset, a revocation, a back-channel logout, expiry), the token
stops working, even before its `exp`. The check reads the `active_sessions` view (one
primary-key lookup). Read your writes: a session that the view does not show yet (started a
moment ago, its projection not caught up) is looked up in the event log itself, which is
authoritative, so a fresh session is never refused; a session the log does not know is
refused. Tests: tests/security/test_session_bound_tokens.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from eventsourcing.application import AggregateNotFoundError
from starlette.concurrency import run_in_threadpool

from ledger.aggregates.session import Session

if TYPE_CHECKING:
    from ledger.api.auth import Principal
    from ledger.api.context import ApiContext


async def check_current_session(context: ApiContext, principal: Principal) -> bool:
    """True when the token's `sid` is an active session of its `sub` (the view read awaited,
    the log's in a worker thread)."""
    sid = principal.sid
    if sid is None:
        return True
    system = context.ready_system()
    now = system.clock()
    record = await system.active.get_async(principal.tenant, sid, now=now)
    if record is not None:
        return record.user_id == principal.sub
    return await run_in_threadpool(_active_in_log, context, principal, sid, now)


def _active_in_log(context: ApiContext, principal: Principal, sid: str, now: datetime) -> bool:
    """True when the log has the session `sid` active at `now`, of the token's `sub`."""
    system = context.ready_system()
    try:
        session: object = system.ledger.repository.get(Session.create_id(principal.tenant, sid))
    except AggregateNotFoundError:
        return False
    return (
        isinstance(session, Session)
        and session.user_id == principal.sub
        and session.is_active_at(now)
    )
