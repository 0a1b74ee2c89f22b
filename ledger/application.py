"""`SessionLedger`, the command side: one method per command, each one transaction.

Every command decides against freshly loaded aggregates and saves them together; a version
conflict with a concurrent command (same session or same account) is retried a bounded
number of times with a fresh decision, then reported as `ConcurrencyConflict`.
Tests: tests/integration/test_ledger_contract.py, tests/properties/test_ledger_machine.py.
"""

from __future__ import annotations

import contextvars
import dataclasses
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Transcoder
from eventsourcing.utils import EnvType

from ledger import validation as check
from ledger.aggregates import (
    Account,
    ConcurrencyConflict,
    LedgerError,
    Session,
    SessionConflict,
    SessionNotFound,
    account_uuid,
    session_uuid,
)
from ledger.aggregates.rules import (
    DEFAULT_ACTIVITY_GRANULARITY_S,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_LIFETIME_S,
    REVOKE_REASONS,
)
from ledger.bulk_commands import BulkCommand, Closing, EndAll, ResetPassword, Revoke
from ledger.committer import (
    DEFAULT_CACHE_SIZE,
    DEFAULT_GROUP_COMMIT,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_WAIT_MS,
    Committer,
    DirectCommitter,
    GroupCommitter,
)
from ledger.locks import KeyedLocks
from ledger.names import LOG_NAME
from ledger.outcomes import (
    ActivityOutcome,
    BulkOutcome,
    Decision,
    ExpireOutcome,
    Outcome,
    StartOutcome,
    TerminateOutcome,
)
from ledger.persistence.transcoder import OrjsonTranscoder
from ledger.records import record_of
from ledger.unit_of_work import UnitOfWork

T = TypeVar("T")
A = TypeVar("A", Session, Account)
Clock = Callable[[], datetime]
# The batch being decided in this thread (None outside `SessionLedger.batch`).
_BATCH: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("batch", default=None)


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


class SessionLedger(Application[UUID]):
    """Records the life of login sessions; the event log is the single source of truth."""

    name = LOG_NAME
    snapshotting_intervals = {Account: 100, Session: 100}
    # Recently used aggregates stay in memory; each load then asks the store only for events
    # after the cached version (fast-forward), so other processes' writes are always seen.
    env = {"AGGREGATE_CACHE_MAXSIZE": str(DEFAULT_CACHE_SIZE)}
    max_attempts = 12

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Clock = utc_now,
        activity_granularity_s: int = DEFAULT_ACTIVITY_GRANULARITY_S,
        default_idle_timeout_s: int = DEFAULT_IDLE_TIMEOUT_S,
        default_max_lifetime_s: int = DEFAULT_MAX_LIFETIME_S,
        group_commit: bool = DEFAULT_GROUP_COMMIT,
        group_commit_max_batch: int = DEFAULT_MAX_BATCH,
        group_commit_max_wait_s: float = DEFAULT_MAX_WAIT_MS / 1000,
    ) -> None:
        super().__init__(env)
        self._locks = KeyedLocks()
        self.clock = clock
        self.granularity = timedelta(seconds=activity_granularity_s)
        self.default_idle_timeout_s = check.timeout(default_idle_timeout_s, what="idle timeout")
        self.default_max_lifetime_s = check.timeout(default_max_lifetime_s, what="max lifetime")
        self.committer: Committer = (
            GroupCommitter(
                self, max_batch=group_commit_max_batch, max_wait_s=group_commit_max_wait_s
            )
            if group_commit
            else DirectCommitter(self)
        )

    def construct_transcoder(self) -> Transcoder:
        """Events are encoded with orjson."""
        return OrjsonTranscoder()

    def close(self) -> None:
        """Stop the committer, then close the database connections."""
        self.committer.close()
        super().close()

    # ------------------------------------------------------------ commands

    def start_session(
        self,
        *,
        tenant: str,
        user_id: str,
        session_id: str | None = None,
        at: datetime | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        application: Mapping[str, Any] | None = None,
        auth_methods: Sequence[str] | None = None,
        idle_timeout_s: int | None = None,
        max_lifetime_s: int | None = None,
    ) -> StartOutcome:
        """Record a session start; repeating the same start changes nothing (`created=False`)."""
        now = self.clock()
        fields: dict[str, Any] = {
            "user_id": check.external_id(user_id, what="user_id"),
            "started_at": check.client_time(at, now) if at is not None else now,
            "ip": check.ip(ip),
            "user_agent": check.text(user_agent, what="user_agent", limit=check.MAX_USER_AGENT),
            "application": check.application(application),
            "auth_methods": check.auth_methods(auth_methods),
            "idle_timeout_s": check.timeout(
                idle_timeout_s or self.default_idle_timeout_s, what="idle_timeout_s"
            ),
            "max_lifetime_s": check.timeout(
                max_lifetime_s or self.default_max_lifetime_s, what="max_lifetime_s"
            ),
        }
        tenant = check.tenant(tenant)
        sid = check.external_id(session_id, what="session_id") if session_id else str(uuid.uuid4())
        compared = set(fields) - ({"started_at"} if at is None else set())
        # First try as a new session without reading it (the usual case): a repeated start
        # then fails on the session's version and the next attempt reads and compares.
        batch = _BATCH.get()
        optimistic = [batch is None or batch.optimistic]

        def decide() -> Decision[StartOutcome]:
            existing = None
            if not optimistic[0]:
                existing = self._find(Session, session_uuid(tenant, sid))
            optimistic[0] = False
            if existing is not None:
                recorded = existing.start_fields()
                differing = sorted(k for k in compared if recorded[k] != fields[k])
                if differing:
                    msg = f"session {sid!r} exists with other {', '.join(differing)}"
                    raise SessionConflict(msg)
                return Decision([], StartOutcome(session=record_of(existing), created=False))
            account = self._find(Account, account_uuid(tenant, fields["user_id"]))
            if account is None:
                account = Account(tenant=tenant, user_id=fields["user_id"])
            session = Session(
                tenant=tenant,
                session_id=sid,
                user_id=fields["user_id"],
                at=fields["started_at"],
                ip=fields["ip"],
                user_agent=fields["user_agent"],
                application=fields["application"],
                auth_methods=fields["auth_methods"],
                idle_timeout_s=fields["idle_timeout_s"],
                max_lifetime_s=fields["max_lifetime_s"],
            )
            account.add_session(session_id=sid, started_at=fields["started_at"])
            return Decision([account, session], StartOutcome(session=record_of(session)))

        return self._run(decide, lock=account_uuid(tenant, fields["user_id"]))

    def record_activity(
        self,
        *,
        tenant: str,
        session_id: str,
        at: datetime | None = None,
        ip: str | None = None,
        application: Mapping[str, Any] | None = None,
    ) -> ActivityOutcome:
        """Record activity (and SSO into `application`); refused once the session has ended."""
        now = self.clock()
        when = check.client_time(at, now) if at is not None else now
        address, app = check.ip(ip), check.application(application)

        def decide() -> Decision[ActivityOutcome]:
            session = self._session(tenant, session_id)
            # Activity first: when it is stored it keeps the IP; a join at the same moment
            # would otherwise make it fall within the granularity and lose the IP.
            recorded = session.record_activity(at=when, ip=address, granularity=self.granularity)
            joined = session.join(application=app, at=when) if app else False
            outcome = ActivityOutcome(recorded=recorded, joined=joined, session=record_of(session))
            return Decision([session], outcome)

        return self._run(decide)

    def terminate_session(
        self,
        *,
        tenant: str,
        session_id: str,
        reason: str,
        actor: str,
        at: datetime | None = None,
        cause: str | None = None,
        user_id: str | None = None,
    ) -> TerminateOutcome:
        """End one session. With `user_id`, a session of another user is `SessionNotFound`."""
        now = self.clock()
        when = check.client_time(at, now) if at is not None else now
        reason = check.reason(reason)
        actor = check.actor(actor)
        cause = check.text(cause, what="cause", limit=check.MAX_CAUSE)
        return self._end_one(
            tenant,
            session_id,
            lambda s: s.terminate(at=when, reason=reason, actor=actor, cause=cause),
            user_id=user_id,
            wanted=reason,
        )

    def terminate_all(
        self,
        *,
        tenant: str,
        user_id: str,
        reason: str,
        actor: str,
        at: datetime | None = None,
        keep_session_id: str | None = None,
        cause: str | None = None,
    ) -> BulkOutcome:
        """End every open session of the user (but `keep_session_id`) in one transaction."""
        return self._bulk(
            tenant,
            user_id,
            EndAll(check.reason(reason)),
            actor=actor,
            at=at,
            keep=keep_session_id,
            cause=cause,
        )

    def reset_password(
        self,
        *,
        tenant: str,
        user_id: str,
        actor: str,
        at: datetime | None = None,
        keep_session_id: str | None = None,
        cause: str | None = None,
    ) -> BulkOutcome:
        """Record a password reset and end every session recorded before it, atomically.

        Each termination's cause is the reset event's id, or `cause` when given (the
        sender's message that reported the reset).
        """
        return self._bulk(
            tenant,
            user_id,
            ResetPassword(),
            actor=actor,
            at=at,
            keep=keep_session_id,
            cause=cause,
        )

    def revoke(
        self,
        *,
        tenant: str,
        user_id: str,
        reason: str,
        actor: str,
        at: datetime | None = None,
        cause: str | None = None,
    ) -> BulkOutcome:
        """Record that the account was locked, disabled or deleted, ending all its sessions.

        Each termination's cause is the revocation event's id, or `cause` when given.
        """
        command = Revoke(check.reason(reason, allowed=REVOKE_REASONS))
        return self._bulk(tenant, user_id, command, actor=actor, at=at, cause=cause)

    def expire_sessions(
        self, candidates: Iterable[tuple[str, str]], *, now: datetime | None = None
    ) -> ExpireOutcome:
        """The reaper: record the expiry of each candidate (tenant, session_id) that is due."""
        moment = now or self.clock()
        expired: list[tuple[str, str, str]] = []
        position: int | None = None
        for tenant, session_id in candidates:
            try:
                outcome = self._end_one(tenant, session_id, lambda s: s.expire(now=moment))
            except SessionNotFound:
                continue
            if outcome.terminated and outcome.reason is not None:
                expired.append((tenant, session_id, outcome.reason))
                position = max(position or 0, outcome.position or 0) or position
        return ExpireOutcome(position=position, expired=expired)

    def batch(
        self, commands: Sequence[Callable[[], Outcome]]
    ) -> tuple[list[Outcome | LedgerError], int | None]:
        """Decide `commands` in order; commit what they recorded in one transaction.

        Each command answers on its own: its outcome, or the `LedgerError` that refused it
        (a refused command records nothing, the others are still committed). A later command
        sees what earlier ones decided. A version conflict with another writer decides the
        whole batch again, reading every session it starts this time. Returns the answers and
        the highest position written.
        """
        refused: dict[int, LedgerError] = {}
        optimistic = True
        for attempt in range(self.max_attempts):
            work = UnitOfWork(optimistic=optimistic)
            token = _BATCH.set(work)
            try:
                answers = _decide_all(commands, refused, work)
            finally:
                _BATCH.reset(token)
            if answers is None:  # a refused command had changed state: decide without it
                continue
            try:
                position = self.committer.commit(work.aggregates())
            except IntegrityError:
                optimistic = False
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))  # noqa: S311
                continue
            placed = [
                a if isinstance(a, LedgerError) else dataclasses.replace(a, position=position)
                for a in answers
            ]
            return placed, position
        msg = f"gave up after {self.max_attempts} attempts: concurrent commands kept conflicting"
        raise ConcurrencyConflict(msg)

    # ------------------------------------------------------------- helpers

    def _end_one(
        self,
        tenant: str,
        session_id: str,
        end: Callable[[Session], str | None],
        *,
        user_id: str | None = None,
        wanted: str | None = None,
    ) -> TerminateOutcome:
        """End one session with `end` (the reason recorded, or None) and close it in its
        account, under the account's lock. `terminated` is True when `end` recorded
        `wanted` (any reason when `wanted` is None).
        """
        owner = self._session(tenant, session_id)  # names the lock; first decision reuses it
        preloaded = [owner]

        def decide() -> Decision[TerminateOutcome]:
            session = preloaded.pop() if preloaded else self._session(tenant, session_id)
            if user_id is not None and session.user_id != user_id:
                raise SessionNotFound(f"no session {session_id!r}")
            recorded = end(session)
            if recorded is None:
                return Decision([], TerminateOutcome(reason=session.termination_reason))
            account = self._account(tenant, session.user_id)
            assert session.ended_at is not None
            account.close_sessions(session_ids=[session.session_id], at=session.ended_at)
            outcome = TerminateOutcome(
                terminated=wanted is None or recorded == wanted,
                reason=recorded,
                session=record_of(session),
            )
            return Decision([account, session], outcome)

        return self._run(decide, lock=account_uuid(tenant, owner.user_id))

    def _bulk(
        self,
        tenant: str,
        user_id: str,
        command: BulkCommand,
        *,
        actor: str,
        at: datetime | None,
        keep: str | None = None,
        cause: str | None = None,
    ) -> BulkOutcome:
        now = self.clock()
        when = check.client_time(at, now) if at is not None else now
        tenant, actor = check.tenant(tenant), check.actor(actor)
        user_id = check.external_id(user_id, what="user_id")
        cause = check.text(cause, what="cause", limit=check.MAX_CAUSE)
        reason = command.reason

        def decide() -> Decision[BulkOutcome]:
            account = self._find(Account, account_uuid(tenant, user_id))
            if account is None:
                if not command.account_event:
                    return Decision([], BulkOutcome())
                account = Account(tenant=tenant, user_id=user_id)
            event_id = account.next_event_id() if command.account_event else None
            changed: list[Session] = []
            terminated: list[str] = []
            expired: list[str] = []
            for sid in account.active_session_ids:
                if sid == keep:
                    continue
                session = self._session(tenant, sid)
                recorded = session.terminate(
                    at=when, reason=reason, actor=actor, cause=cause or event_id
                )
                changed.append(session)
                if recorded == reason:
                    terminated.append(sid)
                elif recorded is not None:
                    expired.append(sid)
            command.record(account, Closing(when, actor, event_id, terminated + expired))
            outcome = BulkOutcome(terminated=terminated, expired=expired, event_id=event_id)
            return Decision([account, *changed], outcome)

        return self._run(decide, lock=account_uuid(tenant, user_id))

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        batch = _BATCH.get()
        found = batch.get(aggregate_id) if batch is not None else None
        if found is not None:
            return found if isinstance(found, cls) else None
        try:
            aggregate: Any = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, cls) else None

    def _session(self, tenant: str, session_id: str) -> Session:
        session = self._find(Session, session_uuid(tenant, session_id))
        if session is None:
            raise SessionNotFound(f"no session {session_id!r}")
        return session

    def _account(self, tenant: str, user_id: str) -> Account:
        account = self._find(Account, account_uuid(tenant, user_id))
        if account is None:  # pragma: no cover - a session always has an account
            account = Account(tenant=tenant, user_id=user_id)
        return account

    def _run(self, decide: Callable[[], Decision[T]], *, lock: UUID | None = None) -> T:
        """Decide and commit; on a version conflict decide again (bounded, with backoff).

        Commands on one account hold its lock in this process, so they queue rather than
        conflict; conflicts with other processes are retried. Within `batch`, the decision
        joins the batch's unit of work instead (committed, and retried, with the batch).
        """
        batch = _BATCH.get()
        if batch is not None:
            decision = decide()
            batch.add(decision.aggregates)
            return decision.result
        with self._locks.hold(lock):
            for attempt in range(self.max_attempts):
                decision = decide()
                try:
                    position = self.committer.commit(decision.aggregates)
                except IntegrityError:
                    time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))  # noqa: S311
                    continue
                return dataclasses.replace(decision.result, position=position)  # type: ignore[type-var]
        msg = f"gave up after {self.max_attempts} attempts: concurrent commands kept conflicting"
        raise ConcurrencyConflict(msg)


def _decide_all(
    commands: Sequence[Callable[[], Outcome]], refused: dict[int, LedgerError], work: UnitOfWork
) -> list[Outcome | LedgerError] | None:
    """Each command's outcome or refusal; None when a refused command had changed state
    (it is then in `refused`, and the batch must be decided again from the store)."""
    answers: list[Outcome | LedgerError] = []
    for n, command in enumerate(commands):
        if n in refused:
            answers.append(refused[n])
            continue
        work.mark()
        try:
            answers.append(command())
        except LedgerError as e:
            refused[n] = e
            if work.changed_since_mark():
                return None
            answers.append(e)
    return answers
