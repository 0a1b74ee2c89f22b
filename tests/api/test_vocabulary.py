"""Reasons and scopes are defined once: the API's enums and the pages' module derive from them."""

from __future__ import annotations

import re

import orjson
from fastapi.testclient import TestClient

from ledger.aggregates.rules import (
    IDP_REASONS,
    REASON_LABELS,
    REVOKE_REASONS,
    IdpReason,
    RevokeReason,
    TerminationReason,
)
from ledger.api.scopes import PageScope, Scope


def test_every_termination_reason_has_a_label() -> None:
    assert set(REASON_LABELS) == set(TerminationReason)
    assert all(label.strip() for label in REASON_LABELS.values())


def test_the_api_reason_enums_are_subsets_of_the_one_definition() -> None:
    assert (
        {r.value for r in IdpReason}
        == {r.value for r in IDP_REASONS}
        == {"logout", "browser_closed"}
    )
    assert {r.value for r in RevokeReason} == {r.value for r in REVOKE_REASONS}
    assert {r.value for r in PageScope} <= {s.value for s in Scope}


def test_the_openapi_document_lists_the_reasons_from_the_enums(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert sorted(schemas["IdpReason"]["enum"]) == sorted(r.value for r in IdpReason)
    assert sorted(schemas["RevokeReason"]["enum"]) == sorted(r.value for r in RevokeReason)


def test_the_pages_vocabulary_module_carries_every_label_and_scope(client: TestClient) -> None:
    response = client.get("/web/vocabulary.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    found = dict(re.findall(r"export const (\w+) = Object\.freeze\((\{.*?\})\);", response.text))
    assert orjson.loads(found["REASONS"]) == {r.value: text for r, text in REASON_LABELS.items()}
    assert orjson.loads(found["SCOPES"]) == {s.name: s.value for s in Scope}


def test_the_pages_use_no_reason_or_scope_literal_of_their_own() -> None:
    from ledger.api.pages import PAGES_DIR

    for script in PAGES_DIR.glob("*.js"):
        text = script.read_text()
        for scope in Scope:
            assert f'"{scope.value}"' not in text, f"{script.name} spells {scope.value}"
        for reason in TerminationReason:
            assert f'{reason.value}: "' not in text, f"{script.name} labels {reason.value}"


def test_every_termination_reason_has_a_caep_mapping() -> None:
    from ledger.outbound.signals import REASONS

    assert set(REASONS) == {r.value for r in TerminationReason}
    assert all(entity and text for entity, text in REASONS.values())
