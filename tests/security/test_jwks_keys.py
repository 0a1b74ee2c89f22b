"""Keys of LEDGER_JWKS_URL: a key the IdP withdrew stops counting once the set expires or is
refetched (RFC 7517 sets are replaced, not merged); an IdP outage costs one fetch per back-off,
never a fetch per request; implausible `kid`s never cause a fetch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from jwt import PyJWK

from ledger.api.context import ApiContext
from ledger.keys.jwks import JwksCache, KeysUnavailable, TokenRefused
from tests.api.conftest import KeyPair, Minter
from tests.security.conftest import JwksServer, assert_problem


def test_a_key_withdrawn_by_the_idp_stops_counting_when_the_set_expires(
    make_client: Callable[..., TestClient], jwks_server: JwksServer, rs: Minter, ec_key: KeyPair
) -> None:
    client = make_client(
        jwt_secret=None, jwks_file=None, jwks_url=jwks_server.url, jwks_lifetime_s=1
    )
    context: ApiContext = client.app.state.ledger  # type: ignore[attr-defined]
    assert context.verifier.url_keys is not None
    clock = Clock()
    clock.now = time.monotonic()  # before the first fetch: the set's times are on this clock
    context.verifier.url_keys.clock = clock
    assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200
    jwks_server.keys = [ec_key.jwk]  # the RSA key is withdrawn after a compromise
    clock.now += 0.999
    assert client.get("/v1/me/sessions", headers=rs.auth()).status_code == 200  # still the set
    assert jwks_server.requests == 1
    clock.now += 0.001  # the set's lifetime (LEDGER_JWKS_LIFETIME_S=1) has passed
    body = assert_problem(client.get("/v1/me/sessions", headers=rs.auth()), 401, "unauthorized")
    assert body["detail"] == "unknown signing key"
    assert client.get("/v1/me/sessions", headers=Minter(ec_key).auth()).status_code == 200
    assert jwks_server.requests == 2


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def keys_of(*pairs: KeyPair) -> dict[str, PyJWK]:
    return {pair.kid: PyJWK(pair.jwk) for pair in pairs}


def test_a_fetch_for_a_new_kid_rebuilds_the_whole_set(rsa_key: KeyPair, ec_key: KeyPair) -> None:
    served = [keys_of(rsa_key)]
    clock = Clock()
    cache = JwksCache(
        "https://idp.test/jwks", lifetime_s=300, clock=clock, fetch=lambda _: served[0]
    )
    cache.refresh()
    assert cache.lookup("rsa-1") is not None
    served[0] = keys_of(ec_key)  # rotation: a new key, the old one withdrawn
    clock.now += 31  # past the refetch interval for unknown kids
    cache.refresh()  # what a token with kid ec-1 causes
    assert cache.lookup("ec-1") is not None
    with pytest.raises(TokenRefused, match="unknown signing key"):
        cache.lookup("rsa-1")  # withdrawn: no longer accepted
    assert cache.version == 1


def test_while_the_idp_fails_random_kids_cause_one_fetch_not_one_each(
    make_client: Callable[..., TestClient], jwks_server: JwksServer, rsa_key: KeyPair
) -> None:
    jwks_server.status = 500
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=jwks_server.url)
    for _ in range(20):
        forged = Minter(KeyPair(uuid.uuid4().hex, "RS256", rsa_key.private, rsa_key.jwk))
        response = client.get("/v1/me/sessions", headers=forged.auth())
        body = assert_problem(response, 503, "unavailable")
        assert body["detail"] == "signing keys unavailable; retry later"
        assert int(response.headers["retry-after"]) >= 1
    assert jwks_server.requests == 1  # the circuit breaker holds the rest


def test_implausible_kids_are_refused_without_a_fetch(
    make_client: Callable[..., TestClient], jwks_server: JwksServer, rsa_key: KeyPair
) -> None:
    client = make_client(jwt_secret=None, jwks_file=None, jwks_url=jwks_server.url)
    for kid in ("k" * 129, "has space", "line\nbreak", "caf\u00e9"):
        forged = Minter(KeyPair(kid, "RS256", rsa_key.private, rsa_key.jwk))
        body = assert_problem(
            client.get("/v1/me/sessions", headers=forged.auth()), 401, "unauthorized"
        )
        assert body["detail"] == "malformed kid"
    assert jwks_server.requests == 0


def test_the_circuit_breaker_backs_off_and_closes_after_a_good_fetch(rsa_key: KeyPair) -> None:
    clock = Clock()
    answers: list[object] = [KeysUnavailable("down"), KeysUnavailable("down"), keys_of(rsa_key)]

    def fetch(_: str) -> dict[str, PyJWK]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]

    cache = JwksCache("https://idp.test/jwks", lifetime_s=300, clock=clock, fetch=fetch)
    for wait in (0.0, 2.0):  # 2 s after the first failure, 4 s after the second
        clock.now += wait
        with pytest.raises(KeysUnavailable):
            cache.refresh()
    clock.now += 3.9
    with pytest.raises(KeysUnavailable):
        cache.lookup("rsa-1")  # the breaker is open: no fetch
    assert cache.fetches == 2
    clock.now += 0.2
    cache.refresh()
    assert cache.lookup("rsa-1") is not None
    assert cache.fetches == 3
