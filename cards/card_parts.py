"""The parts every risk card shares: stable ids, override reasons, source, links, suggestions.

Suggested resources are complete FHIR R4 resources for the patient in context. Codes are the
ones the project's reference lists (LOINC, SNOMED CT); where no verified code is at hand the
concept is carried as text, which FHIR allows, rather than as an invented code.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cards.cds_card import (
    SUMMARY_MAX_CHARACTERS,
    Action,
    ActionType,
    Card,
    Coding,
    Link,
    LinkType,
    OverrideReason,
    SelectionBehavior,
    Source,
)
from cards.cds_card import Suggestion as CardSuggestion
from cards.policy import Band, CardPolicy
from fhir_adapters.codes import LOINC, SNOMED

# Card and suggestion uuids are derived from the hook call, so a retried call gives the same
# ids (and feedback matches), while every new call gives new ones.
_UUID_NAMESPACE = uuid.UUID("4b3c1f8e-6a2d-5e7f-9c01-cd55e0a1b2c3")

CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"

OVERRIDE_REASONS = (
    OverrideReason(code="already-addressed", display="Already screened or addressed elsewhere"),
    OverrideReason(code="patient-declined", display="Patient declined"),
    OverrideReason(code="not-appropriate", display="Not clinically appropriate for this patient"),
    OverrideReason(code="record-incorrect", display="The record's data are wrong or out of date"),
)


def card_uuid(hook_instance: str, card_type: str) -> str:
    """The card's id for this hook call."""
    return str(uuid.uuid5(_UUID_NAMESPACE, f"{hook_instance}/{card_type}"))


def suggestion_uuid(card_id: str, kind: str) -> str:
    """A suggestion's id within its card."""
    return str(uuid.uuid5(_UUID_NAMESPACE, f"{card_id}/{kind}"))


@dataclass(frozen=True)
class SuggestedOrder:
    """A suggestion of one kind (the key feedback is remembered by) and its one action."""

    kind: str
    label: str
    description: str
    resource: dict[str, Any]
    recommended: bool = False


@dataclass(frozen=True)
class IssuedCard:
    """A card and what the service remembers about it: its type, band and suggestion kinds."""

    card: Card
    card_type: str
    band: Band | None
    # suggestion uuid -> kind
    suggestion_kinds: Mapping[str, str] = field(default_factory=dict)


def risk_links(policy: CardPolicy, model: str, card_type: str) -> tuple[Link, ...]:
    """The detail app (a SMART launch naming the card) when there is one, and the model card."""
    model_card = Link(
        label=f"Model card: {model}",
        url=f"{policy.model_cards_url}/{model}",
        type=LinkType.ABSOLUTE,
    )
    if policy.detail_app_url is None:
        return (model_card,)
    detail_app = Link(
        label="Risk details: every factor behind the estimate",
        url=policy.detail_app_url,
        type=LinkType.SMART,
        app_context=card_type,
    )
    return detail_app, model_card


def model_card_markdown(models_url: str, model: str) -> str:
    """The detail's closing line: where the model's data, limits and calibration are."""
    return f"[Model card: data, performance and limits]({models_url}/{model})"


def source(
    label: str, topic: str, models_url: str | None = None, model: str | None = None
) -> Source:
    """The card's source: the model and its card (when a model made it), and the topic."""
    return Source(
        label=label,
        url=None if models_url is None or model is None else f"{models_url}/{model}",
        topic=Coding(code=topic, display=topic.replace("-", " ")),
    )


def fitting_summary(*candidates: str) -> str:
    """The first summary within the CDS Hooks limit: callers give shorter wordings after longer
    ones (fewer names, fewer values), the last written to fit. Should it not, it is shortened at
    a word, never mid-word, rather than failing the call."""
    for candidate in candidates:
        if len(candidate) <= SUMMARY_MAX_CHARACTERS:
            return candidate
    return candidates[-1][: SUMMARY_MAX_CHARACTERS - 1].rsplit(" ", 1)[0] + "…"


def build_card(
    *,
    hook_instance: str,
    card_type: str,
    band: Band | None,
    orders: tuple[SuggestedOrder, ...] = (),
    **fields: Any,
) -> IssuedCard:
    """A card with derived ids, the shared override reasons and its suggestions."""
    identifier = card_uuid(hook_instance, card_type)
    suggestions = tuple(
        CardSuggestion(
            label=order.label,
            uuid=suggestion_uuid(identifier, order.kind),
            is_recommended=order.recommended or None,
            actions=(
                Action(
                    type=ActionType.CREATE,
                    description=order.description,
                    resource=order.resource,
                ),
            ),
        )
        for order in orders
    )
    card = Card(
        uuid=identifier,
        suggestions=suggestions,
        selection_behavior=SelectionBehavior.ANY if suggestions else None,
        override_reasons=OVERRIDE_REASONS,
        **fields,
    )
    kinds = {s.uuid: order.kind for s, order in zip(suggestions, orders, strict=True)}
    return IssuedCard(card, card_type, band, kinds)


def _codeable(system: str | None, code: str | None, display: str) -> dict[str, Any]:
    if system is None or code is None:
        return {"text": display}
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def provisional_condition(
    patient_id: str, snomed_code: str, display: str, evidence: tuple[str, ...]
) -> dict[str, Any]:
    """A provisional problem-list Condition, citing the results it rests on."""
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
        "verificationStatus": {
            "coding": [{"system": CONDITION_VERIFICATION, "code": "provisional"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": CONDITION_CATEGORY,
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    }
                ]
            }
        ],
        "code": _codeable(SNOMED, snomed_code, display),
        "subject": {"reference": f"Patient/{patient_id}"},
    }
    if evidence:
        resource["evidence"] = [{"detail": [{"reference": ref} for ref in evidence]}]
    return resource


def service_request(
    patient_id: str,
    display: str,
    reason: str,
    loinc_code: str | None = None,
) -> dict[str, Any]:
    """A draft order or referral for the patient (the clinician signs it in the EHR)."""
    return {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "code": _codeable(LOINC if loinc_code else None, loinc_code, display),
        "subject": {"reference": f"Patient/{patient_id}"},
        "reasonCode": [{"text": reason}],
    }
