"""Checks on command inputs."""

from __future__ import annotations

import pytest

from ledger import validation as check
from ledger.aggregates import InvalidInput


@pytest.mark.parametrize(
    ("raw", "canonical"), [("10.0.0.1", "10.0.0.1"), ("2001:DB8::0:1", "2001:db8::1")]
)
def test_ip_addresses_are_normalised(raw: str, canonical: str) -> None:
    assert check.ip(raw) == canonical


@pytest.mark.parametrize("raw", ["10.0.0.256", "localhost", "", "1.2.3"])
def test_invalid_ip_addresses_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput, match="invalid IP address"):
        check.ip(raw)


def test_an_application_name_defaults_to_its_id_and_extra_keys_are_refused() -> None:
    assert check.application({"id": "mail"}) == {"id": "mail", "name": "mail"}
    with pytest.raises(InvalidInput):
        check.application({"id": "mail", "url": "x"})
    with pytest.raises(InvalidInput):
        check.application({"name": "no id"})


def test_auth_methods_are_deduplicated_and_bounded() -> None:
    assert check.auth_methods(["pwd", "otp", "pwd"]) == ["pwd", "otp"]
    with pytest.raises(InvalidInput):
        check.auth_methods(["x"] * 17)
    with pytest.raises(InvalidInput):
        check.auth_methods("pwd")


def test_overlong_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="user_agent"):
        check.text("x" * 1025, what="user_agent", limit=check.MAX_USER_AGENT)
    with pytest.raises(InvalidInput, match="actor"):
        check.actor("")
