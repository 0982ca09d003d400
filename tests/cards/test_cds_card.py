"""Cards cannot be built in breach of the CDS Hooks specification."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cards.cds_card import Action, Card, Link, OverrideReason, Source, Suggestion

SOURCE = Source(label="Diabetes risk model")
ORDER = {
    "resourceType": "ServiceRequest",
    "status": "draft",
    "intent": "proposal",
    "subject": {"reference": "Patient/p"},
}


def _card(**changes: Any) -> Card:
    values: dict[str, Any] = {
        "summary": "Diabetes risk high: HbA1c screening suggested",
        "indicator": "warning",
        "source": SOURCE,
    }
    values.update(changes)
    return Card.model_validate(values)


def test_a_minimal_card_has_a_uuid_and_no_empty_attributes() -> None:
    card = _card().to_json()

    assert set(card) == {"uuid", "summary", "indicator", "source"}
    assert card["source"] == {"label": "Diabetes risk model"}
    assert _card().uuid != _card().uuid


def test_a_full_card_serialises_with_the_spec_names() -> None:
    card = _card(
        detail="**BMI 34.2** raises the estimate",
        suggestions=[
            Suggestion(
                label="Order HbA1c",
                isRecommended=True,
                actions=[Action(type="create", description="Order HbA1c", resource=ORDER)],
            )
        ],
        selectionBehavior="at-most-one",
        overrideReasons=[
            OverrideReason(
                code="screened-elsewhere",
                system="http://example.org",
                display="Already screened elsewhere",
            )
        ],
        links=[
            Link(
                label="Details",
                url="https://cds.example.org/smart/launch",
                type="smart",
                appContext="card=1",
            )
        ],
    ).to_json()

    assert card["selectionBehavior"] == "at-most-one"
    assert card["suggestions"][0]["isRecommended"] is True
    assert card["suggestions"][0]["actions"][0]["resource"] == ORDER
    assert card["overrideReasons"][0]["display"] == "Already screened elsewhere"
    assert card["links"][0]["appContext"] == "card=1"


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"summary": "x" * 140}, "at most 139"),
        ({"summary": ""}, "at least 1"),
        ({"indicator": "urgent"}, "indicator"),
        ({"suggestions": [Suggestion(label="Order HbA1c")]}, "selectionBehavior is required"),
        ({"selectionBehavior": "any"}, "only makes sense with suggestions"),
        ({"selectionBehavior": "all", "suggestions": [Suggestion(label="x")]}, "selectionBehavior"),
    ],
)
def test_cards_breaking_the_spec_cannot_be_built(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _card(**changes)


def test_override_reasons_need_a_display() -> None:
    with pytest.raises(ValidationError, match="display"):
        OverrideReason.model_validate({"code": "declined"})


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"type": "create", "description": "Order"}, "whole FHIR resource"),
        (
            {"type": "update", "description": "Update", "resource": {"id": "x"}},
            "whole FHIR resource",
        ),
        ({"type": "delete", "description": "Remove"}, "resourceId"),
        ({"type": "replace", "description": "?", "resource": ORDER}, "type"),
    ],
)
def test_actions_carry_what_their_type_needs(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Action.model_validate(values)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        (
            {"label": "x", "url": "https://a.example", "type": "absolute", "appContext": "c"},
            "smart links only",
        ),
        ({"label": "x", "url": "https://a.example", "type": "web"}, "type"),
        ({"label": "x", "url": "/relative", "type": "absolute"}, "absolute"),
    ],
)
def test_links_follow_the_spec(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        Link.model_validate(values)
