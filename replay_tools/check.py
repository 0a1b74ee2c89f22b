"""`check`: the reference model's invariants run over a real event log, for auditors.

What a log written by the ledger always satisfies, checked from the events alone:
* `version_gap`: each aggregate's versions run 1, 2, 3 ... without a gap;
* `event_after_end`: no activity, join or second termination after a session ended (by a
  termination, or by reaching its expiry);
* `active_after_end`: no session still listed open by its account after its termination;
* `reset_left_open`: every password reset ended every session of the user recorded before it
  (but the one kept): at most one open session left, and each one it closed has a termination
  at or before the reset;
* `expiry_moment`: every expiry is recorded at the moment the rules say
  (`ledger.aggregates.rules.expires_at`, `expiry_reason`, actor `system`), and a termination
  asked for after the expiry is recorded as that expiry;
* `unattributed_end`: no termination without a known reason and an actor.
The log is read once, in the events table's key order (one aggregate after another, through
`ledger.log_store.LogStore.rows_by_aggregate`), so memory holds one aggregate, a batch of
pending cross-checks (an account's claims on its sessions, looked up 500 at a time) and the
violations found. Tests: tests/replay/test_check.py; measured in bench/check.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby, pairwise
from typing import Any
from uuid import UUID

import orjson

from ledger.aggregates import session_uuid
from ledger.aggregates.rules import SYSTEM_ACTOR, TerminationReason, expires_at, expiry_reason
from ledger.log_store import CorruptEventError, EventRow, LogStore
from replay_tools.times import format_time

KINDS = {
    "version_gap": "versions without gaps",
    "event_after_end": "no activity recorded after an end",
    "active_after_end": "no session active after its termination",
    "reset_left_open": "every password reset ended every session of the user recorded before it",
    "expiry_moment": "every expiry recorded at the moment the rules say",
    "unattributed_end": "no termination without a reason and an actor",
}
"""Each kind of violation and the invariant it breaks."""
EXPIRY = {TerminationReason.IDLE_TIMEOUT.value, TerminationReason.MAX_LIFETIME.value}
REASONS = {r.value for r in TerminationReason}
BATCH = 500


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One event as `check` reads it: its stored fields as JSON, times decoded on demand."""

    position: int
    aggregate_id: UUID
    version: int
    name: str  # Session.Started, Account.PasswordReset, ...
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        """The event's own name: Started, Terminated, ..."""
        return self.name.rsplit(".", 1)[-1]

    def time(self, key: str = "at") -> datetime:
        """A recorded time (the transcoder stores them tagged as ISO 8601 text)."""
        value = self.data[key]
        text = value["_data_"] if isinstance(value, dict) else value
        try:
            return datetime.fromisoformat(text)
        except (TypeError, ValueError):
            raise CorruptEventError(self.position, f"{key} {value!r} is not a time") from None


def decode(row: EventRow) -> LogEvent:
    """The stored row, its state parsed as JSON (a lighter read than the application's)."""
    try:
        data = orjson.loads(row.state)
    except orjson.JSONDecodeError as e:
        raise CorruptEventError(row.position, f"its state is not JSON ({e})") from None
    name = row.topic.rsplit(":", 1)[-1]
    return LogEvent(row.position, row.aggregate_id, row.version, name, data)


@dataclass(frozen=True, order=True)
class Violation:
    """One broken invariant, with the log positions of the events that show it."""

    positions: tuple[int, ...]
    kind: str
    subject: str  # "session TENANT/ID", "account TENANT/USER" or "aggregate UUID"
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {"kind": self.kind, "invariant": KINDS[self.kind], **self.__dict__}


@dataclass
class Report:
    """What `check` found up to `head`."""

    head: int = 0
    events: int = 0
    aggregates: int = 0
    violations: list[Violation] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        found = [v.as_dict() for v in sorted(self.violations)]
        return {"head": self.head, "events": self.events, "aggregates": self.aggregates,
                "violations": found}  # fmt: skip


@dataclass(frozen=True)
class Claim:
    """What an account says of one of its sessions, checked against the session's events."""

    session: UUID
    name: str  # tenant/session id
    ended_by: datetime | None  # must have ended at or before (None: must not have ended)
    positions: tuple[int, ...]


def check_log(store: LogStore) -> Report:
    """Every invariant over the log up to its current head."""
    report = Report(head=store.head())
    claims: list[Claim] = []
    rows = store.rows_by_aggregate(report.head)
    for _, group in groupby(rows, key=lambda r: r.aggregate_id):
        events = [decode(row) for row in group]
        report.aggregates += 1
        report.events += len(events)
        report.violations += versions(events)
        if events[0].name.startswith("Session."):
            report.violations += SessionCheck(events).run()
        elif events[0].name.startswith("Account."):
            claims += account_claims(events, report.violations)
        if len(claims) >= BATCH:
            report.violations += settle(store, claims, report.head)
            claims = []
    report.violations += settle(store, claims, report.head)
    report.violations.sort()
    return report


def versions(events: list[LogEvent]) -> Iterator[Violation]:
    """Gaps in one aggregate's versions (the events in version order)."""
    subject = f"aggregate {events[0].aggregate_id}"
    if events[0].version != 1:
        detail = f"its first event is version {events[0].version}, not 1"
        yield Violation((events[0].position,), "version_gap", subject, detail)
    for before, after in pairwise(events):
        if after.version != before.version + 1:
            detail = f"version {before.version} is followed by version {after.version}"
            yield Violation((before.position, after.position), "version_gap", subject, detail)


class SessionCheck:
    """One session's events, in version order, against the session's rules."""

    def __init__(self, events: list[LogEvent]) -> None:
        self.events = events
        first = events[0].data
        self.subject = f"session {first.get('tenant')}/{first.get('session_id')}"
        self.started = events[0].time()
        self.last: datetime = self.started
        self.limits = (int(first["idle_timeout_s"]), int(first["max_lifetime_s"]))
        self.ended: LogEvent | None = None
        self.found: list[Violation] = []

    def expiry(self) -> datetime:
        idle, life = self.limits
        return expires_at(started_at=self.started, last_active_at=self.last,
                          idle_timeout_s=idle, max_lifetime_s=life)  # fmt: skip

    def run(self) -> list[Violation]:
        """Every violation of this session."""
        for event in self.events[1:]:
            if self.ended is not None:
                what = f"{event.kind} after it ended ({self.ended.data.get('reason')})"
                self._found("event_after_end", (self.ended.position, event.position), what)
            elif event.kind == "Terminated":
                self._terminated(event)
            elif event.kind in ("ActivityRecorded", "ApplicationJoined"):
                self._activity(event)
        return self.found

    def _found(self, kind: str, positions: tuple[int, ...], detail: str) -> None:
        self.found.append(Violation(positions, kind, self.subject, detail))

    def _activity(self, event: LogEvent) -> None:
        at = event.time()
        if at >= self.expiry():
            detail = f"{event.kind} at {format_time(at)}, after its expiry at"
            self._found(
                "event_after_end", (event.position,), f"{detail} {format_time(self.expiry())}"
            )
        self.last = max(self.last, at)

    def _terminated(self, event: LogEvent) -> None:
        self.ended = event
        reason, actor, at = event.data.get("reason"), event.data.get("actor"), event.time()
        if reason not in REASONS or not actor:
            detail = f"ended with reason {reason!r} by actor {actor!r}"
            self._found("unattributed_end", (event.position,), detail)
            return
        due, idle, life = self.expiry(), *self.limits
        rule = expiry_reason(started_at=self.started, last_active_at=self.last,
                             idle_timeout_s=idle, max_lifetime_s=life)  # fmt: skip
        if reason in EXPIRY and (at, reason, actor) != (due, rule, SYSTEM_ACTOR):
            detail = f"{reason} by {actor} at {format_time(at)}; the rules say {rule} by"
            self._found(
                "expiry_moment", (event.position,), f"{detail} system at {format_time(due)}"
            )
        elif reason not in EXPIRY and at >= due:
            detail = f"{reason} at {format_time(at)} after it had expired; the rules record {rule}"
            self._found("expiry_moment", (event.position,), f"{detail} at {format_time(due)}")


def account_claims(events: list[LogEvent], found: list[Violation]) -> list[Claim]:
    """Check one account's resets; return what it says of its sessions, to settle later."""
    tenant, user = str(events[0].data.get("tenant")), events[0].data.get("user_id")
    subject = f"account {tenant}/{user}"
    open_: dict[str, int] = {}  # session id -> position of its SessionAdded
    claims: list[Claim] = []
    for event in events:
        data = event.data
        if event.kind == "SessionAdded":
            open_[data["session_id"]] = event.position
        elif event.kind in ("SessionsClosed", "Revoked"):
            for sid in data.get("session_ids") or data.get("closed") or []:
                open_.pop(sid, None)
        elif event.kind == "PasswordReset":
            closed = list(data.get("closed") or [])
            left = [sid for sid in open_ if sid not in closed]
            if len(left) > 1:
                detail = f"left {len(left)} sessions open ({', '.join(left)}); one may be kept"
                positions = tuple(sorted([event.position, *(open_[s] for s in left)]))
                found.append(Violation(positions, "reset_left_open", subject, detail))
            for sid in (s for s in closed if s in open_):
                positions = (open_.pop(sid), event.position)
                claims.append(
                    Claim(session_uuid(tenant, sid), f"{tenant}/{sid}", event.time(), positions)
                )
    claims += [Claim(session_uuid(tenant, sid), f"{tenant}/{sid}", None, (position,))
               for sid, position in open_.items()]  # fmt: skip
    return claims


def settle(store: LogStore, claims: list[Claim], head: int) -> list[Violation]:
    """Check the accounts' claims against their sessions' terminations (one query)."""
    ids = list(dict.fromkeys(c.session for c in claims))
    ended = {e.aggregate_id: e for e in _terminations(store.aggregate_rows(ids), head)}
    found: list[Violation] = []
    for claim in claims:
        end = ended.get(claim.session)
        subject = f"session {claim.name}"
        if claim.ended_by is None and end is not None:
            detail = (
                f"its account still lists it open after its termination ({end.data.get('reason')})"
            )
            positions = tuple(sorted((*claim.positions, end.position)))
            found.append(Violation(positions, "active_after_end", subject, detail))
        elif claim.ended_by is not None and (end is None or end.time() > claim.ended_by):
            detail = f"a password reset at {format_time(claim.ended_by)} closed it, but it has no"
            positions = claim.positions + ((end.position,) if end else ())
            found.append(Violation(positions, "reset_left_open", subject, f"{detail} end by then"))
    return found


def _terminations(rows: Iterable[EventRow], head: int) -> Iterator[LogEvent]:
    seen: set[UUID] = set()
    for row in rows:
        if (
            row.position <= head
            and row.topic.endswith(".Terminated")
            and row.aggregate_id not in seen
        ):
            seen.add(row.aggregate_id)
            yield decode(row)
