"""Live updates for the pages: `GET /v1/events`, session starts and ends as server-sent events.

One `LiveHub` per application follows the log the way the views do (the recorder's
subscription: LISTEN/NOTIFY on PostgreSQL, the polling subscription on SQLite) in one thread,
waits until the views have each event (a page that reloads on it sees the change), and hands
it to every open stream's asyncio queue: a stream holds no thread. The event id is the log
position; a client reconnecting with `Last-Event-ID` first gets what it missed, read from the
log. A stream sees only its token's tenant: with `sessions:read` every session of it, with
`sessions:me` only the caller's own; it ends when the token expires or its `sid` session
ends. sse-starlette ends open streams when the server shuts down, so uvicorn never waits on
them. Tests: tests/api/test_live.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from ledger.api.auth import CurrentPrincipal, Principal
from ledger.api.context import ContextDep
from ledger.api.problems import ApiProblem, error_responses
from ledger.api.scopes import Scope
from ledger.bootstrap import LedgerSystem
from ledger.projections.deltas import STARTED, TERMINATED
from ledger.projections.feed import topics

router = APIRouter(prefix="/v1", tags=["live"])
TOPICS = sorted(topics(STARTED, TERMINATED))
CATCH_UP_LIMIT = 1000


@dataclass(frozen=True)
class LiveEvent:
    """A session started or ended, at log position `position`."""

    position: int
    kind: str  # "started" | "ended"
    tenant: str
    user_id: str
    session_id: str
    reason: str | None = None

    def visible_to(self, principal: Principal) -> bool:
        """Same tenant; all of it with `sessions:read`, else only the caller's own sessions."""
        if self.tenant != principal.tenant:
            return False
        return Scope.READ in principal.scopes or self.user_id == principal.sub

    def sse(self) -> ServerSentEvent:
        """The event as sent: `id` the log position, `event: session`, JSON data."""
        data = {"type": self.kind, "session_id": self.session_id, "user_id": self.user_id}
        if self.reason is not None:
            data["reason"] = self.reason
        return ServerSentEvent(
            data=orjson.dumps(data).decode(), event="session", id=str(self.position)
        )


class LiveHub:
    """Follows the log in one thread and fans each session event out to the open streams."""

    def __init__(self, system: LedgerSystem, loop: asyncio.AbstractEventLoop) -> None:
        self.system, self.loop = system, loop
        self.queues: set[asyncio.Queue[LiveEvent | None]] = set()
        self.dead = False  # the log could not be followed: the next stream starts a new hub
        head = system.ledger.recorder.max_notification_id() or 0
        self._subscription: Any = system.ledger.recorder.subscribe(gt=head, topics=TOPICS)
        self._thread = threading.Thread(target=self._follow, name="live-hub", daemon=True)
        self._thread.start()

    def decode(self, notifications: Iterable[Any]) -> list[LiveEvent]:
        """Session events of the notifications (an ended session's user read from its start)."""
        out = []
        for n in notifications:
            event: Any = self.system.ledger.mapper.to_domain_event(n)
            if type(event) is STARTED:
                out.append(
                    LiveEvent(n.id, "started", event.tenant, event.user_id, event.session_id)
                )
            elif type(event) is TERMINATED:
                # Tenant, user and id are set by the start and never change: the session
                # at version 1 (its first event alone) is all this needs.
                session: Any = self.system.ledger.repository.get(event.originator_id, version=1)
                out.append(
                    LiveEvent(
                        n.id, "ended", session.tenant, session.user_id, session.session_id,
                        reason=event.reason,
                    )
                )  # fmt: skip
        return out

    def read_after(self, position: int) -> list[LiveEvent] | None:
        """The session events after `position` from the log (None: too many, reload instead)."""
        found = self.system.ledger.recorder.select_notifications(
            start=position, limit=CATCH_UP_LIMIT + 1, topics=TOPICS, inclusive_of_start=False
        )
        return None if len(found) > CATCH_UP_LIMIT else self.decode(found)

    def _follow(self) -> None:
        try:
            with contextlib.suppress(Exception), self._subscription as subscription:
                for notification in subscription:
                    for event in self.decode([notification]):
                        self.system.wait(event.position)  # the views have it: a reload shows it
                        self.loop.call_soon_threadsafe(self._publish, event)
        finally:
            # Stopped or failed (the database went away): end the streams; the pages
            # reconnect with Last-Event-ID and a new hub follows the log from there.
            self.dead = True
            with contextlib.suppress(RuntimeError):  # the loop may be closed already
                self.loop.call_soon_threadsafe(self._publish, None)

    def _publish(self, event: LiveEvent | None) -> None:
        for queue in list(self.queues):
            queue.put_nowait(event)

    def stop(self) -> None:
        """Stop following and end every stream."""
        self._subscription.stop()
        self._thread.join(timeout=5)


def hub_of(request: Request, system: LedgerSystem) -> LiveHub:
    """The application's hub, started on the first stream."""
    hub: LiveHub | None = getattr(request.app.state, "live_hub", None)
    if hub is None or hub.dead or hub.system is not system:
        hub = request.app.state.live_hub = LiveHub(system, asyncio.get_running_loop())
    return hub


def stop_hub(app: Any) -> None:
    """Stop the application's hub if one was started (at shutdown)."""
    hub: LiveHub | None = getattr(app.state, "live_hub", None)
    if hub is not None:
        app.state.live_hub = None
        hub.stop()


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        **error_responses(401, 403, 422, 503),
    },
    summary="Session starts and ends as they happen (server-sent events)",
)
async def events(
    request: Request,
    caller: CurrentPrincipal,
    context: ContextDep,
    last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1)] = None,
) -> EventSourceResponse:
    """`event: session`, `id`: log position, data `{type, session_id, user_id, reason?}`."""
    if Scope.READ not in caller.scopes and Scope.ME not in caller.scopes:
        detail = f"requires scope {Scope.READ.value} or {Scope.ME.value}"
        raise ApiProblem(403, "insufficient-scope", "Forbidden", detail)
    hub = hub_of(request, context.ready_system())
    queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue()
    hub.queues.add(queue)
    missed: list[LiveEvent] | None = []
    if last_event_id is not None:
        missed = await asyncio.get_running_loop().run_in_executor(
            None, hub.read_after, last_event_id
        )
    expires = caller.claims.get("exp")
    return EventSourceResponse(_stream(hub, queue, caller, missed=missed, expires=expires), ping=15)


async def _stream(
    hub: LiveHub,
    queue: asyncio.Queue[LiveEvent | None],
    caller: Principal,
    *,
    missed: list[LiveEvent] | None,
    expires: Any,
) -> AsyncIterator[ServerSentEvent]:
    try:
        if missed is None:  # too much was missed: the page reloads its list instead
            yield ServerSentEvent(data="{}", event="reset")
            missed = []
        sent = 0
        for event in missed:
            if event.visible_to(caller):
                yield event.sse()
            sent = event.position
        while True:
            left = float(expires) - time.time() if isinstance(expires, int | float) else None
            if left is not None and left <= 0:
                return
            try:
                got: LiveEvent | None = await asyncio.wait_for(queue.get(), timeout=left)
            except TimeoutError:
                return
            if got is None:
                return
            event = got
            if event.position <= sent or not event.visible_to(caller):
                continue
            yield event.sse()
            if event.kind == "ended" and caller.sid == event.session_id:
                return  # the token's own session ended: so does the token
    finally:
        hub.queues.discard(queue)
