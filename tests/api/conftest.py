"""API fixtures: the app on each backend, real keys (secret, RSA/EC JWKS), token minters."""

from __future__ import annotations

import json
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from ledger.bootstrap import LedgerSystem, bootstrap
from ledger.config import Settings
from tests.conftest import FakeClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "api-test-secret-" + "s" * 40
ISSUER = "https://idp.example.test"
AUDIENCE = "session-ledger"
CLIENT_ID = "ledger-rp"
ALL_SCOPES = "sessions:me sessions:read sessions:terminate sessions:audit sessions:ingest"


@dataclass(frozen=True)
class KeyPair:
    """A private key and its public JWK."""

    kid: str
    alg: str
    private: Any
    jwk: dict[str, Any]


def _jwk(kid: str, alg: str, private: Any) -> KeyPair:
    codec = RSAAlgorithm if alg.startswith("RS") else ECAlgorithm
    public = json.loads(codec.to_jwk(private.public_key()))
    return KeyPair(kid, alg, private, {**public, "kid": kid, "use": "sig", "alg": alg})


@pytest.fixture(scope="session")
def rsa_key() -> KeyPair:
    """The IdP's RSA signing key (in the JWKS file)."""
    return _jwk("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ec_key() -> KeyPair:
    """The IdP's P-256 signing key (in the JWKS file)."""
    return _jwk("ec-1", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def stranger_key() -> KeyPair:
    """An RSA key the ledger does not know, with the kid of a known one."""
    return _jwk("rsa-1", "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def jwks_file(tmp_path_factory: pytest.TempPathFactory, rsa_key: KeyPair, ec_key: KeyPair) -> Path:
    """A JWKS file with the IdP's public keys."""
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_key.jwk, ec_key.jwk]}))
    return path


class Minter:
    """Mints real signed tokens; `claims` go over the defaults (None drops a claim)."""

    def __init__(self, key: KeyPair | None) -> None:
        self.key = key

    @property
    def alg(self) -> str:
        """The algorithm it signs with."""
        return self.key.alg if self.key else "HS256"

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """Sign `claims` as they are."""
        if self.key is None:
            return jwt.encode(claims, SECRET, algorithm="HS256", headers=headers)
        return jwt.encode(
            claims,
            self.key.private,
            algorithm=self.key.alg,
            headers={"kid": self.key.kid, **(headers or {})},
        )

    def token(self, sub: str = "alice", scope: str = "sessions:me", **claims: Any) -> str:
        """An access token for `sub` with `scope` (tenant `acme` unless given)."""
        now = int(time.time())
        base: dict[str, Any] = {
            "sub": sub,
            "scope": scope,
            "tenant": "acme",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        }
        base.update(claims)
        return self.sign({k: v for k, v in base.items() if v is not None})

    def auth(self, sub: str = "alice", scope: str = "sessions:me", **claims: Any) -> dict[str, str]:
        """The Authorization header of `token(...)`."""
        return {"Authorization": f"Bearer {self.token(sub, scope, **claims)}"}


@pytest.fixture
def hs() -> Minter:
    """Mints HS256 tokens with the ledger's secret."""
    return Minter(None)


@pytest.fixture
def rs(rsa_key: KeyPair) -> Minter:
    """Mints RS256 tokens with the IdP's key (selected by kid from the JWKS)."""
    return Minter(rsa_key)


@pytest.fixture(params=["HS256", "RS256"])
def minter(request: pytest.FixtureRequest, rsa_key: KeyPair) -> Minter:
    """Each test using it runs with HS256 and with RS256 tokens."""
    return Minter(None if request.param == "HS256" else rsa_key)


@pytest.fixture
def api_settings(make_settings: Callable[..., Settings], jwks_file: Path) -> Settings:
    """Settings with the HS256 secret and the JWKS file, issuer and audience enforced."""
    return make_settings(
        jwt_secret=SECRET,
        jwks_file=jwks_file,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        oidc_client_id=CLIENT_ID,
        consistency_timeout_s=10,
        pg_pool_size=2,
        reaper_interval_s=3600,
    )


@pytest.fixture
def api_system(api_settings: Settings, clock: FakeClock) -> Iterator[LedgerSystem]:
    """A ledger with projections running, on the test's backend and clock."""
    system = bootstrap(api_settings, clock=clock, run_projections=True)
    yield system
    system.close()


@pytest.fixture
def client(api_settings: Settings, api_system: LedgerSystem) -> Iterator[TestClient]:
    """An HTTP client of the app serving `api_system`."""
    from ledger.api.app import create_app

    with TestClient(create_app(api_settings, system=api_system)) as client:
        yield client


@pytest.fixture
def make_client(
    api_settings: Settings, clock: FakeClock, make_settings: Callable[..., Settings]
) -> Iterator[Callable[..., TestClient]]:
    """Builds further clients on the test database with other settings (closed at teardown)."""
    from ledger.api.app import create_app

    opened: list[tuple[TestClient, LedgerSystem]] = []

    def make(**overrides: Any) -> TestClient:
        values = api_settings.model_dump() | overrides
        settings = make_settings(**values)
        system = bootstrap(settings, clock=clock, run_projections=True)
        client = TestClient(create_app(settings, system=system))
        client.__enter__()
        opened.append((client, system))
        return client

    yield make
    for client, system in opened:
        client.__exit__(None, None, None)
        system.close()


def start(
    client: TestClient, ingest: dict[str, str], session_id: str, user_id: str = "alice", **body: Any
) -> dict[str, Any]:
    """Start a session through the API (asserting 201) and return it."""
    response = client.post(
        "/v1/sessions", json={"session_id": session_id, "user_id": user_id, **body}, headers=ingest
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def ids(response: Any) -> list[str]:
    """The session ids of a list response."""
    return [s["id"] for s in response.json()["sessions"]]
