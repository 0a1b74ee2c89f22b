"""Per-request costs: dependencies run on the event loop; startup objects are frozen for the gc."""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ledger.api import admin, ingest, me, oidc, ops, pages
from ledger.api.app import create_app
from ledger.bootstrap import LedgerSystem
from ledger.config import Settings


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _runs_inline(call: Any) -> bool:
    """FastAPI awaits coroutine functions on the loop; it runs plain callables in a thread."""
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004 (an instance such as HTTPBearer)
    )


@pytest.mark.parametrize("module", [admin, ingest, me, oidc, ops, pages])
def test_every_dependency_of_the_api_routes_runs_on_the_event_loop(module: ModuleType) -> None:
    """A plain `def` dependency costs a thread hop per request (bench H1)."""
    routes = [r for r in module.router.routes if isinstance(r, APIRoute)]
    assert routes
    for route in routes:
        for dependency in _dependencies(route.dependant):
            if dependency.call is None:
                continue
            name = getattr(dependency.call, "__name__", type(dependency.call).__name__)
            assert _runs_inline(dependency.call), f"{route.path}: {name} runs in a thread"


def test_the_objects_alive_at_startup_are_frozen_until_shutdown(
    api_settings: Settings, api_system: LedgerSystem
) -> None:
    """Full collections then skip the loaded application (they paused H1 for up to 100 ms)."""
    with TestClient(create_app(api_settings, system=api_system)) as client:
        assert gc.get_freeze_count() > 10_000
        assert client.get("/healthz").status_code == 200
    assert gc.get_freeze_count() == 0
