"""Crafted cursors are a 422 `invalid-cursor` problem, never a 500 (README: no 500s): every
part of a cursor is checked (base64url text, a 3-element JSON array, version 1, a timestamp
a view can hold, a 32-hex-digit key) before it reaches SQL."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Minter, ids, start
from tests.security.conftest import assert_problem


def crafted(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


KEY = "0" * 32
CURSORS = [
    crafted([1, 2**63, KEY]),  # past SQLite INTEGER / PostgreSQL bigint
    crafted([1, 2**64 - 1, KEY]),
    crafted([1, -(2**63) - 1, KEY]),
    crafted([1, 10**30, KEY]),  # past orjson's integers
    crafted([1, 5, 5]),  # a key that is not text
    crafted([1, 5, [KEY]]),
    crafted([1, 5, "zz"]),
    crafted([1, 5, "A" * 32]),  # we hand out lowercase hex only
    crafted([True, 5, KEY]),  # a version that only equals 1
    crafted([1, 5.0, KEY]),
    crafted({"a": 1, "b": 2, "c": 3}),  # unpacks into three keys
    crafted([1, 5, KEY, 9]),
    crafted("null"),
    "caf\u00e9",  # not base64url
    "!!!!",
]
PATHS = ["/v1/sessions", "/v1/users/alice/sessions/history"]


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_crafted_cursor_is_a_422_problem_and_changes_nothing(
    client: TestClient, hs: Minter, cursor: str
) -> None:
    start(client, hs.auth("idp", "sessions:ingest"), "a1")
    reader = hs.auth("root", "sessions:read sessions:audit")
    for path in PATHS:
        response = client.get(path, params={"cursor": cursor}, headers=reader)
        body = assert_problem(response, 422, "invalid-cursor")
        assert body["detail"].startswith("invalid cursor")
    assert ids(client.get("/v1/sessions", headers=reader)) == ["a1"]


def test_a_cursor_handed_out_still_pages(client: TestClient, hs: Minter) -> None:
    ingest = hs.auth("idp", "sessions:ingest")
    for sid in ("a1", "a2", "a3"):
        start(client, ingest, sid)
    reader = hs.auth("root", "sessions:read")
    first = client.get("/v1/sessions", params={"limit": 2}, headers=reader).json()
    rest = client.get(
        "/v1/sessions", params={"cursor": first["next_cursor"]}, headers=reader
    ).json()
    seen = [s["id"] for s in first["sessions"] + rest["sessions"]]
    assert sorted(seen) == ["a1", "a2", "a3"]
    assert rest["next_cursor"] is None
