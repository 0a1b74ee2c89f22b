"""SET claims (RFC 8417 §2.2, SSF 1.0 §4), signed with PyJWT and verified with joserfc."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from joserfc import jws
from joserfc.jwk import KeySet, KeySetSerialization

from ledger.errors import ConfigError
from ledger.outbound.keys import SigningKeys, parse_pem_keys, thumbprint
from ledger.outbound.sets import (
    ALL,
    NONE,
    jti_for,
    set_claims,
    sub_id,
    subject_matches,
    subject_members,
    wanted,
    webhook_message,
)
from ledger.outbound.signals import SESSION_REVOKED, Signal

IDP = "https://idp.example.test"
SIGNAL = Signal(
    event_id="7b0c1b5e-5f0e-5a7c-9a4e-0c7f2f0d1e11",
    event_type=SESSION_REVOKED,
    webhook_type="session.terminated",
    tenant="acme",
    user_id="alice",
    session_id="s1",
    txn="7b0c1b5e-5f0e-5a7c-9a4e-0c7f2f0d1e11",
    issued=1_772_366_400,
    claims={"event_timestamp": 1_772_366_399, "initiating_entity": "admin",
            "reason_admin": {"en": "Session revoked by administrator"}},
    data={"reason": "admin_terminated"},
)  # fmt: skip


def _claims(receiver: str = "stream-1") -> dict[str, object]:
    return set_claims(
        SIGNAL, issuer="https://ledger.example.test", audience="https://rp.example.test",
        receiver_id=receiver, user_iss=IDP,
    )  # fmt: skip


def test_claims_follow_the_profile() -> None:
    claims = _claims()
    assert set(claims) == {"iss", "iat", "jti", "aud", "txn", "sub_id", "events"}  # no sub, exp
    assert claims["sub_id"] == {
        "format": "complex",
        "user": {"format": "iss_sub", "iss": IDP, "sub": "alice"},
        "session": {"format": "opaque", "id": "s1"},
        "tenant": {"format": "opaque", "id": "acme"},
    }
    assert list(claims["events"]) == [SESSION_REVOKED]  # type: ignore[call-overload]
    assert claims["iat"] == SIGNAL.issued


def test_jti_is_stable_per_receiver_and_unique_across() -> None:
    assert _claims()["jti"] == _claims()["jti"]
    assert _claims("stream-1")["jti"] != _claims("stream-2")["jti"]
    assert jti_for("r", "e", "a") != jti_for("r", "e", "b")


def test_signature_verifies_with_joserfc(key_file: Path) -> None:
    keys = SigningKeys(parse_pem_keys(key_file.read_bytes()))
    token = keys.sign(dict(_claims()))
    key_set = KeySet.import_key_set(cast(KeySetSerialization, keys.jwks()))
    verified = jws.deserialize_compact(token, key_set, algorithms=["RS256"])
    assert verified.headers()["typ"] == "secevent+jwt"
    assert verified.headers()["kid"] == keys.keys[0].kid
    assert len(keys.jwks()["keys"]) == 2  # the second key stays published
    assert all("d" not in k for k in keys.jwks()["keys"])  # public halves only


def test_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 7638 §3.1 example key and its thumbprint
    n = ("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc"
         "_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
         "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
         "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )  # fmt: skip
    assert thumbprint({"n": n, "e": "AQAB"}) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_bad_keys_are_refused() -> None:
    with pytest.raises(ConfigError, match="no RSA private key"):
        SigningKeys(parse_pem_keys(b"not a key"))
    with pytest.raises(ConfigError, match="unreadable"):
        parse_pem_keys(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")


def test_subject_matching() -> None:
    members = subject_members(SIGNAL, user_iss=IDP)
    alice: dict[str, object] = {"format": "iss_sub", "iss": IDP, "sub": "alice"}
    assert subject_matches(alice, members)
    assert subject_matches({"format": "opaque", "id": "s1"}, members)  # the session
    assert not subject_matches(
        {"format": "iss_sub", "iss": "https://other", "sub": "alice"}, members
    )
    assert subject_matches({"format": "complex", "user": alice}, members)  # missing = wildcard
    assert not subject_matches(
        {"format": "complex", "user": alice, "session": {"format": "opaque", "id": "s2"}}, members
    )
    assert not subject_matches({"format": "email", "email": "alice@example.com"}, members)


def test_default_subjects() -> None:
    alice: dict[str, object] = {"format": "iss_sub", "iss": IDP, "sub": "alice"}

    def gets(default: str, inc: list[dict[str, object]], exc: list[dict[str, object]]) -> bool:
        return wanted(SIGNAL, user_iss=IDP, default_subjects=default, included=inc, excluded=exc)

    assert gets(ALL, [], [])
    assert not gets(ALL, [], [alice])
    assert not gets(NONE, [], [])
    assert gets(NONE, [alice], [])


def test_webhook_message() -> None:
    message = webhook_message(SIGNAL)
    assert message == {
        "type": "session.terminated",
        "timestamp": "2026-03-01T12:00:00Z",
        "data": {"reason": "admin_terminated"},
    }
    assert sub_id(SIGNAL, user_iss=IDP)["format"] == "complex"
