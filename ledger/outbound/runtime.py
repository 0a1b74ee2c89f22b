"""What one process runs of outbound: the store, the signing keys, the delivery worker.

`build_deliverers(settings, head=...)` opens the outbound store (receivers and outbox, in the
views database), loads the signing keys and the identity providers' enforcement targets of
`LEDGER_CONNECTIONS_FILE` (making the store's receivers match them), and builds the delivery
worker; `start()` / `stop()` run it. What to send is decided once by the outbox process
(`ledger.outbound.outbox`), which the projection runner drives like a view; sending is the
worker's separate, retryable step.
Tests: tests/outbound/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.config import Settings
from ledger.outbound.delivery import Deliverer, allow_private
from ledger.outbound.enforcer import sync
from ledger.outbound.idp import load_targets
from ledger.outbound.keys import SigningKeys, load_signing_keys
from ledger.outbound.store import OutboxStorage
from ledger.persistence.schema import prepare_database
from ledger.projections.registry import open_view
from ledger.projections.runner import ProjectionLock

DEV_ISSUER = "http://127.0.0.1:8000"


def transmitter_issuer(settings: Settings) -> str | None:
    """`LEDGER_ISSUER`, or the development server's URL in development mode."""
    return settings.issuer or (DEV_ISSUER if settings.dev_mode else None)


def open_store(settings: Settings, *, create: bool = True) -> tuple[OutboxStorage, Any]:
    """The outbound store on the views database (tables created if missing), and its factory."""
    store, factory = open_view("outbound", settings, create=False)
    if create:
        try:
            store.create_table()
        except IntegrityError:  # the runner created the tables at the same moment
            store.create_table()
    return store, factory


@dataclass
class Outbound:
    """What the API and the worker share: store, keys, issuer, and the worker (maybe)."""

    settings: Settings
    store: OutboxStorage
    keys: SigningKeys | None
    issuer: str | None
    head: Callable[[], int]
    deliverer: Deliverer | None = None
    unregister: Callable[[], None] | None = None  # its metrics collector's, when it has one
    _factory: Any = field(default=None, repr=False)

    @property
    def allow_private(self) -> bool:
        """Whether receivers' URLs may name private addresses."""
        return allow_private(self.settings)

    def start(self) -> None:
        """Start the delivery worker (when this process runs one)."""
        if self.deliverer is not None:
            self.deliverer.start()

    def wake(self) -> None:
        """Tell the worker something was queued."""
        if self.deliverer is not None:
            self.deliverer.wake()

    def stop(self) -> None:
        """Stop the worker, withdraw its metrics and close the store."""
        if self.unregister is not None:  # a closed store must never be scraped again
            self.unregister()
            self.unregister = None
        if self.deliverer is not None:
            self.deliverer.stop()
        with contextlib.suppress(Exception):
            self._factory.close()


def build_deliverers(settings: Settings, *, head: Callable[[], int], run: bool = True) -> Outbound:
    """The outbound parts of one process; with `run`, a delivery worker too."""
    # an insert-only role uses the tables `ledger db init` made (it may not create any)
    targets = load_targets(settings, allow_private=allow_private(settings))
    can_create = prepare_database(settings.views_url, setting="LEDGER_VIEWS_DATABASE_URL")
    store, factory = open_store(settings, create=can_create)
    keys = load_signing_keys(settings)
    # the file is the truth where there is one: a connection left out stops being enforced
    sync(store, targets, head=head(), prune=settings.connections_file is not None)
    outbound = Outbound(settings, store, keys, transmitter_issuer(settings), head, _factory=factory)
    if run:
        lock = ProjectionLock("outbound-delivery", settings.views_url)
        outbound.deliverer = Deliverer(store, keys, settings, lock=lock, targets=targets)
    return outbound


def start_outbound(settings: Settings, system: Any, registry: Any = None) -> Outbound:
    """Build and start the outbound parts of a process running `system` (a LedgerSystem);
    the delivery worker runs where the projections run. Metrics go to `registry` if given."""
    from ledger.outbound.metrics import OutboundCollector  # noqa: PLC0415

    outbound = build_deliverers(
        settings,
        head=lambda: system.ledger.recorder.max_notification_id() or 0,
        run=system.projections is not None,
    )
    if registry is not None:
        collector = OutboundCollector(outbound)
        registry.register(collector)
        outbound.unregister = lambda: registry.unregister(collector)
    outbound.start()
    return outbound
