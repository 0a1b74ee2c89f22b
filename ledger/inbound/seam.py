"""The seam every inbound adapter plugs into: verify the sender, drop what was seen, map, run.

An `Adapter` (one per connection) turns an `InboundRequest` into `Message`s (raising
`Refused` when the sender fails verification, `Malformed` when the body cannot be read) and
an answer in the sender's own protocol. `Inbound.receive` runs the three steps for every
adapter alike: each message's sender event id is remembered in the `SeenStore` before its
commands run (forgotten again when they fail for a transient reason, so the sender's retry
is not mistaken for a replay); a message seen before records nothing; a message without
commands (an event type the ledger does not use) is acknowledged. Every message is counted
by connection, kind and outcome. Tests: tests/inbound/test_seam.py and the adapters' tests.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

import orjson

from ledger.aggregates.errors import ConcurrencyConflict, LedgerError, SessionNotFound
from ledger.application import SessionLedger
from ledger.inbound.commands import COMMAND_NAMES, Command, EndSession, changed
from ledger.outcomes import BulkOutcome, Outcome
from ledger.persistence.seen_store import SeenStore

log = logging.getLogger("ledger.inbound")
PROBLEM = "application/problem+json"
Runner = Callable[[str, Callable[[], Outcome]], Outcome]
Counter = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Connection:
    """One configured sender: its name, kind, tenant, and what verifies its messages."""

    name: str
    kind: str
    tenant: str
    secret: bytes | None = None
    issuer: str | None = None
    audience: str | None = None
    keys: Any = None  # a ledger.api.keys.TokenVerifier when jwks_file/jwks_url is set
    idp_certificate: str | None = None
    replay_window: timedelta = timedelta(days=7)
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InboundRequest:
    """What the sender sent: method, headers (lower-case names), query and the raw body."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    url: str = ""


@dataclass(frozen=True)
class Reply:
    """The answer in the sender's protocol."""

    status: int
    body: bytes = b""
    media_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Message:
    """One sender event: its id (the replay key), type, tenant and the commands it maps to."""

    event_id: str
    event_type: str
    tenant: str
    commands: tuple[Command, ...] = ()
    keep_until: datetime | None = None
    scope: str | None = None  # the replay key's scope: the connection's name unless set
    reply_to: Mapping[str, str] = field(default_factory=dict)  # what the answer needs (SAML)


@dataclass(frozen=True)
class Result:
    """What became of one message: `recorded`, `unchanged`, `duplicate`, `ignored`,
    `unmatched` (no such session or user) or `rejected` (the ledger's rules refused it)."""

    message: Message
    outcome: str


class Refused(Exception):
    """The sender failed verification (or sent a replay where its protocol refuses them)."""

    def __init__(self, description: str, *, code: str = "authentication_failed") -> None:
        super().__init__(description)
        self.description, self.code = description, code


class Malformed(Refused):
    """The body cannot be read as the sender's format."""

    def __init__(self, description: str, *, code: str = "invalid_request") -> None:
        super().__init__(description, code=code)


def problem(status: int, title: str, detail: str) -> Reply:
    """An RFC 9457 problem+json answer."""
    slug = title.lower().replace(" ", "-")
    body = {"type": f"tag:session-ledger,2026:problem:{slug}", "title": title, "status": status}
    return Reply(status, orjson.dumps({**body, "detail": detail}), PROBLEM)


class Adapter(ABC):
    """One connection's protocol: read (verify and parse) a request, answer it."""

    kind: ClassVar[str]
    options: ClassVar[frozenset[str]] = frozenset()  # keys of its own in the connections file
    refuse_replays: ClassVar[bool] = False  # OIDC back-channel logout refuses them (400)

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def cause(self, event_id: str) -> str:
        """The `cause` of terminations this connection records: connection and event id."""
        return f"{self.connection.name}:{event_id}"[:512]

    def challenge(self, request: InboundRequest) -> Reply:
        """A GET (subscription checks); none by default."""
        return problem(405, "Method not allowed", f"{self.kind} connections take POST only")

    @abstractmethod
    def read(self, request: InboundRequest, *, now: datetime) -> Sequence[Message] | Reply:
        """Verify the sender and parse its messages (or a handshake's direct answer)."""

    def answer(self, results: Sequence[Result]) -> Reply:
        """The answer once every message was handled."""
        return Reply(200, orjson.dumps({"received": len(results)}), "application/json")

    def refusal(self, error: Refused) -> Reply:
        """The answer to a sender that failed verification (401) or sent a malformed body."""
        if isinstance(error, Malformed):
            return problem(400, "Bad request", error.description)
        return problem(401, "Unauthorized", error.description)


class Inbound:
    """Runs adapters' messages through the seen store onto the ledger, counting each."""

    def __init__(self, *, seen: SeenStore, count: Counter, clock: Callable[[], datetime]) -> None:
        self.seen, self.count, self.clock = seen, count, clock

    def receive(
        self, adapter: Adapter, request: InboundRequest, *, ledger: SessionLedger, run: Runner
    ) -> Reply:
        """Verify, drop what was seen, map and run; the adapter's answer."""
        name, kind = adapter.connection.name, adapter.kind
        now = self.clock()
        try:
            read = adapter.read(request, now=now)
            if isinstance(read, Reply):
                self.count(name, kind, "handshake")
                return read
            results = [self._handle(adapter, m, ledger=ledger, run=run, now=now) for m in read]
        except Refused as e:
            outcome = "malformed" if isinstance(e, Malformed) else "refused"
            self.count(name, kind, outcome)
            log.warning("inbound %s (%s): %s: %s", name, kind, outcome, e.description)
            return adapter.refusal(e)
        return adapter.answer(results)

    def _handle(
        self,
        adapter: Adapter,
        message: Message,
        *,
        ledger: SessionLedger,
        run: Runner,
        now: datetime,
    ) -> Result:
        name, kind = adapter.connection.name, adapter.kind
        if not message.commands:
            self.count(name, kind, "ignored")
            log.info("inbound %s: %s %s not used", name, message.event_type, message.event_id)
            return Result(message, "ignored")
        until = message.keep_until or now + adapter.connection.replay_window
        scope = message.scope or name
        if not self.seen.remember(scope, message.event_id, until=until, now=now):
            self.count(name, kind, "duplicate")
            if adapter.refuse_replays:
                raise Refused(
                    f"{message.event_id!r} replayed (already seen)", code="invalid_request"
                )
            return Result(message, "duplicate")
        try:
            outcome = self._run(adapter, message, ledger=ledger, run=run)
        except BaseException:
            self.seen.forget(scope, message.event_id)
            self.count(name, kind, "error")
            raise
        self.count(name, kind, outcome)
        return Result(message, outcome)

    def _run(
        self, adapter: Adapter, message: Message, *, ledger: SessionLedger, run: Runner
    ) -> str:
        outcomes: list[str] = []
        for command in message.commands:
            label = f"inbound_{COMMAND_NAMES[type(command)]}"
            try:
                outcome = run(label, _bind(command, ledger, message.tenant))
            except SessionNotFound:
                outcomes.append("unmatched")
                continue
            except ConcurrencyConflict:
                raise
            except LedgerError as e:
                log.warning(
                    "inbound %s: %s refused: %s", adapter.connection.name, message.event_id, e
                )
                outcomes.append("rejected")
                continue
            outcomes.append(_label(command, outcome))
        found = [o for o in ("recorded", "rejected", "unchanged") if o in outcomes]
        if found:
            return found[0]
        log.warning(
            "inbound %s: %s %s matched no session (tenant %s)",
            adapter.connection.name,
            message.event_type,
            message.event_id,
            message.tenant,
        )
        return "unmatched"


def _bind(command: Command, ledger: SessionLedger, tenant: str) -> Callable[[], Outcome]:
    return lambda: command.run(ledger, tenant)


def _label(command: Command, outcome: Outcome) -> str:
    if changed(outcome):
        return "recorded"
    if isinstance(outcome, BulkOutcome) and not isinstance(command, EndSession):
        return "unmatched" if outcome.event_id is None else "unchanged"
    return "unchanged"
