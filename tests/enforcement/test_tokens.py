"""The client-credentials token cache (RFC 6749 §4.4) against the test IdPs' real token
endpoints, with a clock the test moves: kept until shortly before it expires, replaced when
the IdP refuses it, and a clear error when none can be had."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ledger.outbound.http import client as guarded
from ledger.outbound.tokens import REFRESH_MARGIN_S, ClientCredentials, TokenError
from tests.enforcement.conftest import CLIENT_ID, CLIENT_SECRET
from tests.enforcement.idp_servers import KeycloakServer


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with guarded(allow_private=True, timeout=5) as client:
        yield client


def tokens_of(
    idp: KeycloakServer, http: httpx.Client, clock: Clock, secret: str = CLIENT_SECRET
) -> ClientCredentials:
    return ClientCredentials(
        http, token_url=f"{idp.base_url}{idp.token_path}", client_id=CLIENT_ID,
        client_secret=secret, scope=None, clock=clock,
    )  # fmt: skip


def test_a_token_is_kept_until_shortly_before_it_expires(
    keycloak_idp: KeycloakServer, http: httpx.Client
) -> None:
    keycloak_idp.lifetime_s = 300
    clock = Clock()
    tokens = tokens_of(keycloak_idp, http, clock)
    first = tokens.token()
    clock.now += 300 - REFRESH_MARGIN_S - 1
    assert tokens.token() == first
    assert len(keycloak_idp.token_requests) == 1
    clock.now += 1  # within the margin: asked for again before the IdP would refuse it
    second = tokens.token()
    assert second != first and len(keycloak_idp.token_requests) == 2


def test_a_short_lived_token_is_renewed_after_nine_tenths_of_its_life(
    keycloak_idp: KeycloakServer, http: httpx.Client
) -> None:
    keycloak_idp.lifetime_s = 20  # shorter than the margin: a tenth of it is kept back
    clock = Clock()
    tokens = tokens_of(keycloak_idp, http, clock)
    first = tokens.token()
    clock.now += 17.9
    assert tokens.token() == first
    clock.now += 0.2
    assert tokens.token() != first


def test_an_invalidated_token_is_replaced_but_a_newer_one_is_kept(
    keycloak_idp: KeycloakServer, http: httpx.Client
) -> None:
    tokens = tokens_of(keycloak_idp, http, Clock())
    first = tokens.token()
    tokens.invalidate(first)
    second = tokens.token()
    tokens.invalidate(first)  # a second thread's late report of the same refusal
    assert second != first and tokens.token() == second
    assert len(keycloak_idp.token_requests) == 2


def test_a_refused_client_or_a_down_endpoint_is_a_token_error(
    keycloak_idp: KeycloakServer, http: httpx.Client
) -> None:
    with pytest.raises(TokenError, match="401 invalid_client"):
        tokens_of(keycloak_idp, http, Clock(), secret="wrong").token()
    keycloak_idp.down = True
    with pytest.raises(TokenError, match="503"):
        tokens_of(keycloak_idp, http, Clock()).token()
    keycloak_idp.close()
    with pytest.raises(TokenError, match="ConnectError"):
        tokens_of(keycloak_idp, http, Clock()).token()
