"""The managed configuration's document: strict parsing, merge patches and change lists."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.catalog import SERVICE_IDS
from cds_service.errors import InvalidRequest
from cds_service.managed_config import (
    config_changes,
    file_config,
    merge_patch,
    parse_config_document,
)
from cds_service.settings import Settings


def file_document() -> dict[str, Any]:
    return file_config(Settings(), SERVICE_IDS).to_json()


def test_the_file_values_parse_back_to_themselves() -> None:
    document = file_document()
    assert parse_config_document(document, SERVICE_IDS).to_json() == document


def test_every_problem_is_named_at_once() -> None:
    document = file_document()
    document["cards"]["diabetes"]["high_from"] = "high"
    document["services"]["x"] = {"enabled": True}
    del document["fhir"]["fetch_budget_seconds"]
    with pytest.raises(InvalidRequest) as refused:
        parse_config_document(document, SERVICE_IDS)
    assert {p.location for p in refused.value.problems} == {
        "cards.diabetes.high_from",
        "fhir.fetch_budget_seconds",
    }
    # Unknown services are named once the document's shape is right.
    document = file_document()
    document["services"]["x"] = {"enabled": True}
    with pytest.raises(InvalidRequest) as unknown:
        parse_config_document(document, SERVICE_IDS)
    assert [str(p) for p in unknown.value.problems] == ["services.x: no such service"]


def test_merge_patch_follows_rfc_7396() -> None:
    # The examples of RFC 7396 appendix A, a selection.
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"b": "c"}) == {"a": "b", "b": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch(["a", "b"], {"a": "c"}) == {"a": "c"}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_changes_list_every_leaf_that_moved() -> None:
    before = file_document()
    after = merge_patch(
        before,
        {
            "cards": {"diabetes": {"high_from": 0.35}},
            "services": {"note-summary": {"enabled": False}},
        },
    )
    assert config_changes(before, after) == [
        {"path": "cards.diabetes.high_from", "from": 0.4, "to": 0.35},
        {"path": "services.note-summary.enabled", "from": True, "to": False},
    ]
    assert config_changes(before, before) == []
