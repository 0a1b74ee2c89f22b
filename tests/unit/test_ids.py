"""Aggregate ids and the checks on tenants and external ids."""

from __future__ import annotations

import pytest

from ledger.aggregates.ids import account_uuid, session_uuid
from ledger.validation import external_id as check_external_id
from ledger.validation import tenant as check_tenant


def test_ids_are_deterministic_and_kinds_do_not_collide() -> None:
    assert session_uuid("t", "x") == session_uuid("t", "x")
    assert session_uuid("t", "x") != account_uuid("t", "x")
    assert session_uuid("t", "x") != session_uuid("t2", "x")


@pytest.mark.parametrize("tenant", ["", "a/b", "a b", "x" * 256, "é"])
def test_tenants_with_slashes_or_odd_characters_are_refused(tenant: str) -> None:
    with pytest.raises(ValueError, match="invalid tenant"):
        check_tenant(tenant)


@pytest.mark.parametrize("value", ["", " padded", "x" * 256, "line\nbreak"])
def test_bad_external_ids_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="invalid session_id"):
        check_external_id(value, what="session_id")


def test_a_255_character_id_with_unicode_is_accepted() -> None:
    value = "ü" * 255
    assert check_external_id(value, what="user_id") == value
