"""The composition root: settings in, a ready `LedgerSystem` out. Nothing else wires.

`bootstrap()` checks the databases and builds the command side (`SessionLedger`), every view
of the projection registry, the projection runners (views and outbound processes) and the
background workers (expiry reaper, sealer). `build_front()` builds what the HTTP front needs
besides: the token verifier and the inbound connections. `serve` and `project` only choose
what to start: projections with `run_projections`, workers with `start_workers()`. Tests
swap databases and clocks here and nowhere else. Tests: tests/integration/test_workers.py.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import PersistenceError

from ledger.application import Clock, SessionLedger, utc_now
from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.inbound.connections import Connections, load_connections
from ledger.keys.dev_tokens import read_dev_secret
from ledger.keys.verifier import TokenVerifier
from ledger.names import LOG_NAME
from ledger.persistence.schema import creation_lock, prepare_database
from ledger.projections.active_sessions import ActiveSessionsView
from ledger.projections.batching import SessionView
from ledger.projections.registry import PROJECTIONS, open_view, specs
from ledger.projections.runner import Projections, wait_for
from ledger.projections.session_history import SessionHistoryView
from ledger.reaper import Reaper
from ledger.seals import seal_new_events
from ledger.workers import Periodic, Worker


@dataclass
class LedgerSystem:
    """The command side, the views, and what runs in the background of this process."""

    settings: Settings
    ledger: SessionLedger
    views: dict[str, SessionView]
    projections: Projections | None = None
    clock: Clock = utc_now
    workers: list[Worker] = field(default_factory=list)
    _factories: list[Any] = field(default_factory=list)
    _started: list[Worker] = field(default_factory=list)

    @property
    def active(self) -> ActiveSessionsView:
        """The `active_sessions` view."""
        return self.views["active_sessions"]  # type: ignore[return-value]

    @property
    def history(self) -> SessionHistoryView:
        """The `session_history` view."""
        return self.views["session_history"]  # type: ignore[return-value]

    def wait(self, position: int | None, timeout: float | None = None) -> bool:
        """Block until every view has processed `position` (read-your-writes)."""
        limit = self.settings.consistency_timeout_s if timeout is None else timeout
        return wait_for(self.views, position, limit)

    def lag(self) -> dict[str, int]:
        """How many notifications each view is behind the log."""
        head = self.ledger.recorder.max_notification_id() or 0
        return {
            name: head - (view.max_tracking_id(LOG_NAME) or 0) for name, view in self.views.items()
        }

    def start_workers(self) -> None:
        """Start the background workers (reaper, sealer, deliverers); idempotent."""
        for worker in self.workers:
            if worker not in self._started:
                worker.start()
                self._started.append(worker)

    def stop_workers(self) -> None:
        """Stop the workers started here."""
        for worker in reversed(self._started):
            worker.stop()
        self._started.clear()

    def close(self) -> None:
        """Stop the workers and the projections, and close every connection."""
        self.stop_workers()
        if self.projections is not None:
            self.projections.stop()
        self.ledger.close()
        for factory in self._factories:
            with contextlib.suppress(Exception):
                factory.close()


def bootstrap(
    settings: Settings, *, clock: Clock = utc_now, run_projections: bool | None = None
) -> LedgerSystem:
    """Check the databases, build everything; start the projections when asked (or configured).

    The workers are built, not started: `serve` and `project` call `start_workers()`.
    """
    with (
        creation_lock(settings.events_url, setting="LEDGER_DATABASE_URL"),
        creation_lock(settings.views_url, setting="LEDGER_VIEWS_DATABASE_URL")
        if settings.views_url != settings.events_url
        else contextlib.nullcontext(),
    ):
        can_create = prepare_database(settings.events_url, setting="LEDGER_DATABASE_URL")
        can_create_views = can_create
        if settings.views_url != settings.events_url:
            can_create_views = prepare_database(
                settings.views_url, setting="LEDGER_VIEWS_DATABASE_URL"
            )
        try:
            ledger = _build_ledger(settings, clock=clock, create_tables=can_create)
            # every projection's tables (processes' too) exist before any runner starts
            opened = {
                name: open_view(name, settings, create=can_create_views) for name in PROJECTIONS
            }
        except PersistenceError as e:
            raise ConfigError("LEDGER_DATABASE_URL", f"cannot use the database: {e}") from None
    system = LedgerSystem(
        settings=settings,
        ledger=ledger,
        views={name: view for name, (view, _) in opened.items() if name in specs("view")},
        clock=clock,
        _factories=[factory for _, factory in opened.values()],
    )
    system.workers = _build_workers(system)
    if settings.run_projections if run_projections is None else run_projections:
        system.projections = Projections(
            events=settings.events_url,
            views=settings.views_url,
            batch=settings.projection_batch,
            create_tables=can_create_views,
        )
        system.projections.start()
    return system


@dataclass(frozen=True)
class Front:
    """What the HTTP front needs besides the system: who signs tokens, who sends messages."""

    verifier: TokenVerifier
    dev_secret: bool
    connections: Connections


def build_front(settings: Settings) -> Front:
    """The token verifier (on the development secret in dev mode without keys) and the
    inbound connections; a missing key or a bad connections file raises ConfigError."""
    secret = settings.jwt_secret.get_secret_value().encode() if settings.jwt_secret else None
    dev = False
    if not settings.has_signing_keys:
        if not settings.dev_mode:
            raise ConfigError(
                "LEDGER_JWT_SECRET",
                "no signing key: set LEDGER_JWT_SECRET, LEDGER_JWKS_FILE or LEDGER_JWKS_URL "
                "(or run `ledger serve --dev` for a development secret)",
            )
        secret, dev = read_dev_secret(settings.dev_secret_file, create=True), True
    verifier = TokenVerifier.from_settings(settings, hmac_secret=secret)
    return Front(verifier=verifier, dev_secret=dev, connections=load_connections(settings))


def _build_ledger(settings: Settings, *, clock: Clock, create_tables: bool) -> SessionLedger:
    env = settings.events_url.library_env(pool_size=2, max_overflow=settings.pg_pool_size)
    if not create_tables:
        env["CREATE_TABLE"] = "no"
    size = settings.aggregate_cache_size
    env["AGGREGATE_CACHE_MAXSIZE"] = str(size) if size else ""  # the library: "0" is unbounded
    return SessionLedger(
        env,
        clock=clock,
        activity_granularity_s=settings.activity_granularity_s,
        default_idle_timeout_s=settings.default_idle_timeout_s,
        default_max_lifetime_s=settings.default_max_lifetime_s,
        group_commit=settings.group_commit,
        group_commit_max_batch=settings.group_commit_max_batch,
        group_commit_max_wait_s=settings.group_commit_max_wait_ms / 1000,
    )


def _build_workers(system: LedgerSystem) -> list[Worker]:
    """The background workers of a process that runs the projections."""
    settings = system.settings
    url = settings.events_url
    return [
        Reaper(system.ledger, system.active, system.clock, settings.reaper_interval_s),
        Periodic("sealer", settings.seal_interval_s, lambda: seal_new_events(url)),
    ]
