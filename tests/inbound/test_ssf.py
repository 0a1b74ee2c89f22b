"""Shared Signals push (RFC 8935): SETs from the CAEP/RISC/SSF specifications' examples, signed
as SSF 1.0 §4 says, answered 202 or 400 `{"err", "description"}`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KeyPair, Minter
from tests.conftest import FakeClock
from tests.inbound.helpers import active, fixture, history, metric

PATH = "/v1/inbound/transmitter"
ISSUER = "https://idp.example.com/123456789/"
AUDIENCE = "https://sp.example.com/caep"
USER = "99beb27c-c1c2-4955-882a-e0dc4996fcbc"
SESSION = "dMTlD|1600802906"
CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
RISC = "https://schemas.openid.net/secevent/risc/event-type/"
TOKEN = "stream-push-token-0123456789abcdef"


def connections(jwks_file: Path) -> str:
    return f"""
[[connection]]
name = "transmitter"
kind = "ssf"
tenant = "t123456789"
issuer = "{ISSUER}"
audience = "{AUDIENCE}"
jwks_file = "{jwks_file}"
secret = "{TOKEN}"
"""


def set_token(key: KeyPair, claims: dict[str, Any], *, typ: str | None = "secevent+jwt") -> str:
    headers: dict[str, Any] = {"kid": key.kid}
    if typ is not None:
        headers["typ"] = typ
    return jwt.encode(claims, key.private, algorithm="RS256", headers=headers)


def claims(name: str, **changes: Any) -> dict[str, Any]:
    """A specification example, aimed at this connection (iss, aud) unless changed."""
    values = fixture(f"ssf/{name}.json")
    values.update({"iss": ISSUER, "aud": AUDIENCE, **changes})
    return {k: v for k, v in values.items() if v is not None}


def push(client: TestClient, token: str, **headers: str) -> Any:
    sent = {"Content-Type": "application/secevent+jwt", "Accept": "application/json"}
    sent["Authorization"] = f"Bearer {TOKEN}"
    sent.update(headers)
    return client.post(PATH, content=token.encode(), headers=sent)


def refused(response: Any, err: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["err"] == err
    assert isinstance(body["description"], str)


@pytest.fixture
def receiver(
    connect: Callable[[str], TestClient], clock: FakeClock, jwks_file: Path, hs: Minter
) -> TestClient:
    clock.now = datetime(2021, 3, 9, 15, 45, tzinfo=UTC)  # before the examples' moments
    client = connect(connections(jwks_file))
    ingest = hs.auth("idp", "sessions:ingest", tenant="t123456789")
    for sid, user in ((SESSION, USER), ("other", USER), ("jane-1", "jane.smith@example.com")):
        body = {"session_id": sid, "user_id": user}
        assert client.post("/v1/sessions", json=body, headers=ingest).status_code == 201
    clock.now = datetime(2021, 3, 9, 15, 55, tzinfo=UTC)  # after them
    return client


def test_caep_session_revoked_with_a_complex_subject_ends_that_session(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    response = push(receiver, set_token(rsa_key, claims("caep-session-revoked-complex")))
    assert response.status_code == 202
    assert response.content == b""
    ended = history(receiver, hs, USER, "t123456789")[SESSION]
    assert ended["termination_reason"] == "admin_terminated"  # policy
    assert ended["terminated_by"] == "transmitter:policy"
    assert ended["termination_cause"] == "transmitter:24c63fb56e5a2d77a6b512616ca9fa24"
    assert ended["ended_at"] == "2021-03-09T15:49:51Z"  # event_timestamp, seconds
    assert active(receiver, hs, USER, "t123456789") == ["other"]


def test_a_session_revoked_for_a_user_ends_all_the_users_sessions(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    values = claims("ssf-figure-10")
    values["events"][CAEP + "session-revoked"]["initiating_entity"] = "user"  # modified
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    ended = history(receiver, hs, "jane.smith@example.com", "t123456789")["jane-1"]
    assert (ended["termination_reason"], ended["terminated_by"]) == (
        "user_terminated",
        "jane.smith@example.com",
    )


def test_the_ledgers_own_reason_code_is_honoured(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    values = claims("caep-session-revoked-complex")
    values["events"][CAEP + "session-revoked"].update(
        {"initiating_entity": "user", "reason_code": "logout"}
    )
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    ended = history(receiver, hs, USER, "t123456789")[SESSION]
    assert (ended["termination_reason"], ended["terminated_by"]) == ("logout", USER)


@pytest.mark.parametrize(
    ("event", "payload", "reason"),
    [
        (RISC + "account-disabled", {"reason": "hijacking"}, "account_disabled"),
        (RISC + "account-purged", {}, "account_deleted"),
        (RISC + "credential-compromise", {"credential_type": "password"}, "password_reset"),
        (
            CAEP + "credential-change",
            {"credential_type": "password", "change_type": "update"},
            "password_reset",
        ),
    ],
)
def test_account_events_end_the_users_sessions(
    receiver: TestClient,
    rsa_key: KeyPair,
    hs: Minter,
    event: str,
    payload: dict[str, Any],
    reason: str,
) -> None:
    values = claims("risc-account-disabled", events={event: payload})
    values["sub_id"] = {"format": "iss_sub", "iss": ISSUER, "sub": USER}
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    sessions = history(receiver, hs, USER, "t123456789")
    assert {s["termination_reason"] for s in sessions.values()} == {reason}


def test_a_new_fido_credential_changes_nothing(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    values = claims("caep-credential-change")
    values["sub_id"] = {"format": "iss_sub", "iss": ISSUER, "sub": USER}
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    assert sorted(active(receiver, hs, USER, "t123456789")) == sorted([SESSION, "other"])
    assert metric(receiver, "transmitter", "ignored") == 1


def test_session_established_starts_a_session(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    values = claims(
        "caep-session-revoked-complex", events={CAEP + "session-established": {"amr": ["pwd"]}}
    )
    values["sub_id"]["session"]["id"] = "new-session"
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    assert "new-session" in active(receiver, hs, USER, "t123456789")


def test_the_ssf_verification_event_is_acknowledged(receiver: TestClient, rsa_key: KeyPair) -> None:
    values = claims(
        "risc-account-disabled",
        sub_id={"format": "opaque", "id": "f67e39a0a4d34d56b3aa1bc4cff0069f"},
        events={
            "https://schemas.openid.net/secevent/ssf/event-type/verification": {
                "state": "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo="
            }
        },
    )
    assert push(receiver, set_token(rsa_key, values)).status_code == 202


def test_a_replayed_set_is_acknowledged_and_records_nothing(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    values = claims("caep-session-revoked-complex")
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    values["events"][CAEP + "session-revoked"]["reason_code"] = "logout"
    assert push(receiver, set_token(rsa_key, values)).status_code == 202
    ended = history(receiver, hs, USER, "t123456789")[SESSION]
    assert ended["termination_reason"] == "admin_terminated"
    assert metric(receiver, "transmitter", "duplicate") == 1


@pytest.mark.parametrize(
    ("make", "err"),
    [
        (
            lambda k, s: set_token(k, claims("caep-session-revoked-complex", iss="https://evil/")),
            "invalid_issuer",
        ),
        (
            lambda k, s: set_token(k, claims("caep-session-revoked-complex", aud="https://other/")),
            "invalid_audience",
        ),
        (lambda k, s: set_token(s, claims("caep-session-revoked-complex")), "invalid_key"),
        (
            lambda k, s: set_token(k, claims("caep-session-revoked-complex"), typ="JWT"),
            "invalid_request",
        ),
        (
            lambda k, s: set_token(k, claims("caep-session-revoked-complex", jti=None)),
            "invalid_request",
        ),
        (lambda k, s: "not.a.set", "invalid_request"),
    ],
    ids=["issuer", "audience", "key", "typ", "jti", "garbage"],
)
def test_an_invalid_set_is_a_400_with_its_rfc8935_error_and_records_nothing(
    receiver: TestClient,
    rsa_key: KeyPair,
    stranger_key: KeyPair,
    hs: Minter,
    make: Callable[[KeyPair, KeyPair], str],
    err: str,
) -> None:
    refused(push(receiver, make(rsa_key, stranger_key)), err)
    assert history(receiver, hs, USER, "t123456789")[SESSION]["status"] == "active"


def test_a_wrong_authorization_or_media_type_is_refused(
    receiver: TestClient, rsa_key: KeyPair, hs: Minter
) -> None:
    token = set_token(rsa_key, claims("caep-session-revoked-complex"))
    refused(push(receiver, token, Authorization="Bearer wrong"), "authentication_failed")
    refused(push(receiver, token, **{"Content-Type": "application/jwt"}), "invalid_request")
    assert history(receiver, hs, USER, "t123456789")[SESSION]["status"] == "active"
