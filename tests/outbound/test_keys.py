"""Signing keys: development key made once (0600), configured files checked, rotation order."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ledger.config import Settings
from ledger.errors import ConfigError
from ledger.outbound.keys import generate_pem, load_signing_keys
from ledger.outbound.runtime import DEV_ISSUER, transmitter_issuer


def _pem(key: object) -> bytes:
    return key.private_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_development_key_is_made_once(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    path = tmp_path / "var" / "ssf-signing-key.pem"
    settings = make_settings(dev_mode=True, dev_signing_key_file=path, unsafe_dev_mode_exposed=True)
    first = load_signing_keys(settings)
    assert first is not None and path.stat().st_mode & 0o777 == 0o600
    again = load_signing_keys(settings)
    assert again is not None and again.keys[0].kid == first.keys[0].kid
    assert transmitter_issuer(settings) == DEV_ISSUER


def test_no_keys_outside_development(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert load_signing_keys(settings) is None and transmitter_issuer(settings) is None


def test_first_key_signs(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    old, new = generate_pem(), generate_pem()
    path = tmp_path / "keys.pem"
    path.write_bytes(new + old)
    keys = load_signing_keys(make_settings(signing_key_file=path))
    assert keys is not None and len(keys.keys) == 2
    path.write_bytes(new)
    only_new = load_signing_keys(make_settings(signing_key_file=path))
    assert only_new is not None and only_new.keys[0].kid == keys.keys[0].kid


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "only RSA"),
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "at least 2048"),
    ],
)
def test_unusable_keys_are_refused(
    make_settings: Callable[..., Settings], tmp_path: Path, key: object, message: str
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(_pem(key))
    with pytest.raises(ConfigError, match=message) as caught:
        load_signing_keys(make_settings(signing_key_file=path))
    assert caught.value.setting == "LEDGER_SIGNING_KEY_FILE"
    with pytest.raises(ConfigError, match="cannot read"):
        load_signing_keys(make_settings(signing_key_file=tmp_path / "missing.pem"))
