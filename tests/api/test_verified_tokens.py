"""A verified token is kept until its `exp`: a lookup, never a way around verification."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient

from ledger.api.context import ApiContext
from ledger.api.verified import VerifiedTokens
from tests.api.conftest import Minter


class Clock:
    """A settable wall clock (seconds since the epoch)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_kept_token_is_refused_from_its_exp_as_pyjwt_refuses_it() -> None:
    """PyJWT: expired when `exp <= now - leeway`; the cache must not keep it a moment longer."""
    clock = Clock(1_000.0)
    kept: VerifiedTokens[str] = VerifiedTokens(leeway_s=30, ttl_s=3_600, clock=clock)
    kept.put("t", "alice", exp=1_010)
    clock.now = 1_039.999
    assert kept.get("t") == "alice"
    clock.now = 1_040.0
    assert kept.get("t") is None
    assert len(kept) == 0


def test_a_kept_token_is_verified_again_after_the_ttl() -> None:
    clock = Clock(1_000.0)
    kept: VerifiedTokens[str] = VerifiedTokens(leeway_s=0, ttl_s=60, clock=clock)
    kept.put("t", "alice", exp=10_000)
    clock.now = 1_059.9
    assert kept.get("t") == "alice"
    clock.now = 1_060.0
    assert kept.get("t") is None


def test_the_cache_is_bounded_and_drops_its_oldest_entry() -> None:
    kept: VerifiedTokens[int] = VerifiedTokens(leeway_s=0, size=3, clock=Clock(0.0))
    for n in range(5):
        kept.put(f"t{n}", n, exp=100)
    assert len(kept) == 3
    assert [kept.get(f"t{n}") for n in range(5)] == [None, None, 2, 3, 4]


def test_a_token_with_an_unreadable_exp_is_not_kept() -> None:
    kept: VerifiedTokens[str] = VerifiedTokens(leeway_s=0, clock=Clock(0.0))
    kept.put("t", "alice", exp=None)
    kept.put("u", "bob", exp="soon")
    assert len(kept) == 0


def test_a_token_accepted_once_is_refused_when_it_expires(
    make_client: Callable[..., TestClient], minter: Minter
) -> None:
    client = make_client(jwt_leeway_s=0)
    wall = Clock(time.time())
    context: ApiContext = client.app.state.ledger  # type: ignore[attr-defined]
    context.verifier.clock = wall  # the token cache reads the verifier's clock too
    exp = int(wall.now) + 2
    headers = {"Authorization": f"Bearer {minter.token(exp=exp)}"}
    assert client.get("/v1/me/sessions", headers=headers).status_code == 200
    assert len(context.principals) == 1  # the second request is answered from the cache
    assert client.get("/v1/me/sessions", headers=headers).status_code == 200
    wall.now = exp - 0.001
    assert client.get("/v1/me/sessions", headers=headers).status_code == 200
    wall.now = exp  # PyJWT's comparison: expired when exp <= now - leeway
    response = client.get("/v1/me/sessions", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] == "token expired"


def test_the_same_claims_with_another_signature_are_not_a_hit(
    client: TestClient, minter: Minter
) -> None:
    token = minter.token()
    assert (
        client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[::-1]}"
    response = client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    scoped = minter.token(scope="sessions:read")
    refused = client.get("/v1/me/sessions", headers={"Authorization": f"Bearer {scoped}"})
    assert refused.status_code == 403  # the scope is read from each token, kept or not
