"""A CDS Hooks 2.0 card validator for the tests: every card rule of shared/reference/cds-hooks.md.

It reads the cards as an EHR receives them (JSON), independently of `cards.cds_card`, so a
card the service's own types let through is still checked against the specification. Suggested
resources are validated as FHIR R4 with `fhir.resources` R4B models and must refer to the patient.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class

CARD_KEYS = {
    "uuid", "summary", "detail", "indicator", "source", "suggestions", "selectionBehavior",
    "overrideReasons", "links",
}  # fmt: skip
INDICATORS = {"info", "warning", "critical"}
SELECTION_BEHAVIORS = {"at-most-one", "any"}
ACTION_TYPES = {"create", "update", "delete"}
LINK_TYPES = {"absolute", "smart"}
EMPTY = (None, "", [], {})
# The resource element that names the patient, by resource type.
PATIENT_ELEMENT = {"Condition": "subject", "ServiceRequest": "subject", "Observation": "subject"}


def _no_empty_values(value: Any, where: str) -> None:
    # "Omit optional attributes that have no value" (no null, "", [] or {}).
    if isinstance(value, dict):
        for key, item in value.items():
            assert item not in EMPTY, f"{where}.{key} is empty: omit it"
            _no_empty_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_empty_values(item, f"{where}[{index}]")


def _check_resource(resource: dict[str, Any], patient_id: str, where: str) -> None:
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)  # raises on anything that is not valid R4
    element = PATIENT_ELEMENT.get(resource["resourceType"])
    assert element is not None, f"{where}: no rule for {resource['resourceType']}"
    assert resource[element] == {"reference": f"Patient/{patient_id}"}, where


def check_card(card: dict[str, Any], patient_id: str) -> None:
    """Fail with the rule broken when the card breaks one."""
    assert set(card) <= CARD_KEYS, f"unknown card attributes {set(card) - CARD_KEYS}"
    _no_empty_values(card, "card")
    assert isinstance(card.get("uuid"), str), "every card carries a uuid (for feedback)"
    summary = card.get("summary")
    assert isinstance(summary, str), "summary is required"
    assert 0 < len(summary) < 140, f"summary must be under 140 characters: {summary!r}"
    assert "SHAP" not in summary
    assert "model output" not in summary.lower()
    assert card.get("indicator") in INDICATORS, "indicator must be info, warning or critical"
    source = card.get("source")
    assert isinstance(source, dict), "source is required"
    assert isinstance(source.get("label"), str), "source.label is required"
    if "url" in source:
        assert source["url"].startswith(("http://", "https://")), "source.url is absolute"
    if "topic" in source:
        assert isinstance(source["topic"].get("code"), str), "source.topic is a Coding"
    if "detail" in card:
        assert isinstance(card["detail"], str), "detail is Markdown text"
        assert "SHAP" not in card["detail"]
    suggestions = card.get("suggestions", [])
    if suggestions:
        assert card.get("selectionBehavior") in SELECTION_BEHAVIORS, "selectionBehavior"
    else:
        assert "selectionBehavior" not in card, "selectionBehavior only with suggestions"
    for n, suggestion in enumerate(suggestions):
        where = f"suggestions[{n}]"
        assert isinstance(suggestion.get("label"), str), f"{where}.label"
        assert isinstance(suggestion.get("uuid"), str), f"{where}.uuid (for acceptedSuggestions)"
        for m, action in enumerate(suggestion.get("actions", [])):
            at = f"{where}.actions[{m}]"
            assert action.get("type") in ACTION_TYPES, f"{at}.type"
            assert isinstance(action.get("description"), str), f"{at}.description"
            if action["type"] == "delete":
                assert isinstance(action.get("resourceId"), str), f"{at}.resourceId"
            else:
                assert isinstance(action.get("resource"), dict), f"{at}.resource"
                _check_resource(action["resource"], patient_id, at)
    for n, reason in enumerate(card.get("overrideReasons", [])):
        assert isinstance(reason.get("display"), str), f"overrideReasons[{n}].display"
        assert isinstance(reason.get("code"), str), f"overrideReasons[{n}].code"
    for n, link in enumerate(card.get("links", [])):
        assert isinstance(link.get("label"), str), f"links[{n}].label"
        assert link.get("url", "").startswith(("http://", "https://")), f"links[{n}].url"
        assert link.get("type") in LINK_TYPES, f"links[{n}].type"
        if link["type"] != "smart":
            assert "appContext" not in link, f"links[{n}]: appContext only on smart links"
            assert "autolaunchable" not in link, f"links[{n}]: autolaunchable only on smart"


def check_response(body: dict[str, Any], patient_id: str) -> list[dict[str, Any]]:
    """Check a hook response's every card; returns the cards."""
    assert set(body) <= {"cards", "systemActions"}, set(body)
    assert isinstance(body["cards"], list)
    uuids = [card.get("uuid") for card in body["cards"]]
    assert len(uuids) == len(set(uuids)), "card uuids are unique"
    for card in body["cards"]:
        check_card(card, patient_id)
    cards: list[dict[str, Any]] = body["cards"]
    return cards


def without_uuids(value: Any) -> Any:
    """The cards with every uuid blanked (uuids differ between calls; nothing else should)."""
    if isinstance(value, dict):
        return {k: "<uuid>" if k == "uuid" else without_uuids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_uuids(item) for item in value]
    return value
