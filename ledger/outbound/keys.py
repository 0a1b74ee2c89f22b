"""The transmitter's signing keys: RSA keys from `LEDGER_SIGNING_KEY_FILE`, their public JWKS.

The file holds one or more PEM private keys (RSA, at least 2048 bits, SSF 1.0 interop
profile); the first signs, the others stay published in the JWKS while receivers move on
(rotation). Development mode makes a key under `var/` (mode 0600) when none is configured.
Each key's `kid` is its RFC 7638 thumbprint. SETs are signed RS256 with PyJWT, header
`typ: secevent+jwt` (RFC 8417 §2.3).
Tests: tests/outbound/test_sets.py, tests/outbound/test_ssf_api.py.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.keys.private_files import create_private_file

SETTING = "LEDGER_SIGNING_KEY_FILE"
MIN_RSA_BITS = 2048
SET_TYPE = "secevent+jwt"  # RFC 8417 §2.3 explicit typing
_PEM_RE = re.compile(
    rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """The RFC 7638 §3 thumbprint (SHA-256) of an RSA public JWK."""
    members = {"e": public_jwk["e"], "kty": "RSA", "n": public_jwk["n"]}
    canonical = orjson.dumps(members, option=orjson.OPT_SORT_KEYS)
    return _b64url(hashlib.sha256(canonical).digest())


@dataclass(frozen=True)
class SigningKey:
    """One RSA key pair and its public JWK."""

    private: rsa.RSAPrivateKey
    jwk: dict[str, Any]

    @property
    def kid(self) -> str:
        """The key id (its thumbprint)."""
        return str(self.jwk["kid"])


class SigningKeys:
    """The keys of the transmitter; `keys[0]` signs."""

    def __init__(self, keys: list[rsa.RSAPrivateKey]) -> None:
        if not keys:
            raise ConfigError(SETTING, "no RSA private key in the file")
        self.keys = [_signing_key(k) for k in keys]

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5) of every key."""
        return {"keys": [dict(k.jwk) for k in self.keys]}

    def sign(self, claims: dict[str, Any]) -> str:
        """A compact JWS of `claims`, RS256, `typ: secevent+jwt`, `kid` of the first key."""
        key = self.keys[0]
        return jwt.encode(
            claims, key.private, algorithm="RS256", headers={"typ": SET_TYPE, "kid": key.kid}
        )


def _signing_key(private: rsa.RSAPrivateKey) -> SigningKey:
    public: dict[str, Any] = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    jwk = {"kty": "RSA", "n": public["n"], "e": public["e"]}
    jwk.update({"kid": thumbprint(jwk), "use": "sig", "alg": "RS256"})
    return SigningKey(private, jwk)


def parse_pem_keys(data: bytes, *, source: str = SETTING) -> list[rsa.RSAPrivateKey]:
    """Every PEM private key in `data` (ConfigError for anything but RSA >= 2048 bits)."""
    keys: list[rsa.RSAPrivateKey] = []
    for block in _PEM_RE.findall(data):
        try:
            key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError) as e:
            raise ConfigError(source, f"unreadable private key: {e}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(source, "only RSA keys sign SETs (RS256)")
        if key.key_size < MIN_RSA_BITS:
            raise ConfigError(source, f"an RSA key of {key.key_size} bits; at least 2048")
        keys.append(key)
    return keys


def generate_pem(bits: int = MIN_RSA_BITS) -> bytes:
    """A fresh RSA private key in PEM (PKCS #8)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ConfigError(setting, f"cannot read {path}: {e.strerror}") from None


def _dev_key(path: Path) -> bytes:
    """The development key at `path`, created (0600) when missing."""
    create_private_file(path, generate_pem, setting="LEDGER_DEV_SIGNING_KEY_FILE")
    return _read(path, "LEDGER_DEV_SIGNING_KEY_FILE")


def load_signing_keys(settings: Settings) -> SigningKeys | None:
    """The configured keys; a development key in development mode; else None (no SETs)."""
    if settings.signing_key_file is not None:
        data = _read(settings.signing_key_file, SETTING)
        return SigningKeys(parse_pem_keys(data))
    if settings.dev_mode:
        path = settings.dev_signing_key_file
        return SigningKeys(parse_pem_keys(_dev_key(path), source="LEDGER_DEV_SIGNING_KEY_FILE"))
    return None
