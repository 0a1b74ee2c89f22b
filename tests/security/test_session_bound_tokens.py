"""A token is only as alive as the session its `sid` names (OpenID back-channel logout's
intent, applied by the ledger to itself): once that session ends, however it ends, the token
is refused (401, `invalid_token`, "session ended") and can change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.api.app import create_app
from ledger.bootstrap import bootstrap
from ledger.config import Settings
from tests.api.conftest import Minter, ids, start
from tests.conftest import FakeClock
from tests.security.conftest import assert_problem


def assert_session_ended(response: Any) -> None:
    body = assert_problem(response, 401, "unauthorized")
    assert body["detail"] == "session ended"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def end_by_user(client: TestClient, minter: Minter) -> None:
    client.delete("/v1/me/sessions/a1", headers=minter.auth("alice", sid="a2"))


def end_by_admin(client: TestClient, minter: Minter) -> None:
    admin = minter.auth("root", "sessions:terminate")
    assert client.delete("/v1/users/alice/sessions/a1", headers=admin).status_code == 204


def end_by_reset(client: TestClient, minter: Minter) -> None:
    idp = minter.auth("idp", "sessions:ingest")
    body = {"keep_session_id": "a2"}
    assert client.post("/v1/users/alice/password-reset", json=body, headers=idp).status_code == 200


@pytest.mark.parametrize("end", [end_by_user, end_by_admin, end_by_reset])
def test_a_token_of_an_ended_session_can_neither_list_nor_terminate(
    client: TestClient, minter: Minter, end: Callable[[TestClient, Minter], None]
) -> None:
    ingest = minter.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")  # the attacker's session
    start(client, ingest, "a2")  # the user's own
    attacker = minter.auth("alice", sid="a1")
    assert client.get("/v1/me/sessions", headers=attacker).status_code == 200
    end(client, minter)

    assert_session_ended(client.get("/v1/me/sessions", headers=attacker))
    assert_session_ended(client.delete("/v1/me/sessions/a2", headers=attacker))
    assert_session_ended(client.delete("/v1/me/sessions", headers=attacker))
    devices = client.post("/web/devices", json={"user_agents": []}, headers=attacker)
    assert_session_ended(devices)
    # nothing else changed: the user's own session is still open
    assert ids(client.get("/v1/me/sessions", headers=minter.auth("alice", sid="a2"))) == ["a2"]


def test_a_token_naming_another_users_or_an_unknown_session_is_refused(
    client: TestClient, minter: Minter
) -> None:
    start(client, minter.auth("idp", "sessions:ingest"), "b1", user_id="bob")
    assert_session_ended(client.get("/v1/me/sessions", headers=minter.auth("alice", sid="b1")))
    assert_session_ended(client.get("/v1/me/sessions", headers=minter.auth("alice", sid="zz")))
    assert ids(client.get("/v1/me/sessions", headers=minter.auth("bob", sid="b1"))) == ["b1"]


def test_a_token_of_an_expired_session_is_refused(
    client: TestClient, hs: Minter, clock: FakeClock
) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1", idle_timeout_s=60)
    me = hs.auth("alice", sid="a1")
    assert client.get("/v1/me/sessions", headers=me).status_code == 200
    clock.advance(seconds=61)
    assert_session_ended(client.get("/v1/me/sessions", headers=me))


def test_a_token_verified_a_moment_ago_is_refused_as_soon_as_its_session_ends(
    client: TestClient, hs: Minter
) -> None:
    """The verified-token cache keeps signatures, never the session's state."""
    ingest = hs.auth("idp", "sessions:ingest")
    start(client, ingest, "a1")
    me = hs.auth("alice", sid="a1")
    assert client.get("/v1/me/sessions", headers=me).status_code == 200  # now cached
    assert client.post("/v1/sessions/a1/terminate", json={"reason": "logout"}, headers=ingest)
    assert_session_ended(client.get("/v1/me/sessions", headers=me))


def test_a_session_the_views_do_not_show_yet_is_taken_from_the_log(
    api_settings: Settings, clock: FakeClock, hs: Minter
) -> None:
    """Read your writes: the event log decides when the view has not caught up."""
    system = bootstrap(api_settings, clock=clock, run_projections=False)  # the views never move
    try:
        with TestClient(create_app(api_settings, system=system)) as client:
            system.ledger.start_session(tenant="acme", user_id="carol", session_id="c1")
            me = hs.auth("carol", sid="c1")
            assert client.get("/v1/me/sessions", headers=me).json() == {"sessions": []}
            system.ledger.terminate_session(
                tenant="acme", session_id="c1", reason="logout", actor="idp", user_id="carol"
            )
            assert_session_ended(client.get("/v1/me/sessions", headers=me))
    finally:
        system.close()


def test_with_require_sid_a_self_service_token_without_sid_is_refused(
    make_client: Callable[..., TestClient], hs: Minter
) -> None:
    client = make_client(require_sid=True)
    body = assert_problem(
        client.get("/v1/me/sessions", headers=hs.auth("alice")), 401, "unauthorized"
    )
    assert body["detail"] == "token has no sid"
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    assert client.get("/v1/me/sessions", headers=hs.auth("alice", sid="a1")).status_code == 200
