"""Prefetch templates (CDS Hooks 2.0) and what an EHR sent for each of them.

For each key a service declares, the EHR's `prefetch` holds a resource or Bundle (provided),
`null` (it looked and found nothing), an OperationOutcome (it tried and failed), or nothing at
all (it did not or could not satisfy the key). The last two are what the service fetches itself
when it may.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

# The tokens CDS Hooks 2.0 allows in a template, besides `{{context.<field>}}`.
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
# What a clinician calls the data a query reads, by its resource type.
_SUBJECTS = {
    "Patient": "the patient's details",
    "Observation": "results and measurements",
    "Condition": "the problem list",
    "MedicationRequest": "medication orders",
    "MedicationStatement": "the medication list",
    "FamilyMemberHistory": "family history",
    "DocumentReference": "notes",
    "DiagnosticReport": "reports",
}
# Any {{...}}, so tokens outside 2.0 (e.g. the 3.0 ballot's `{{today()}}`) are seen and refused.
_TOKEN = re.compile(r"\{\{\s*(.*?)\s*\}\}")
OPERATION_OUTCOME = "OperationOutcome"


class InvalidPrefetch(ValueError):
    """A prefetch value is not what its template asks for."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"prefetch.{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class PrefetchTemplate:
    """One prefetch key: the FHIR query that fills it, and whether the service needs it."""

    key: str
    query: str
    required: bool = True
    # Read every page of the search, or only the first (e.g. "the 20 most recent notes").
    all_pages: bool = True

    def __post_init__(self) -> None:
        for token in _TOKEN.findall(self.query):
            if not (token.startswith("context.") or token in USER_TOKENS):
                raise ValueError(
                    f"prefetch template {self.key}: token {{{{{token}}}}} is not CDS Hooks 2.0"
                )

    @property
    def expected_resource_type(self) -> str:
        """A search gives a Bundle; a read gives the resource it names."""
        if "?" in self.query:
            return "Bundle"
        return self.query.split("/", 1)[0]

    @property
    def subject(self) -> str:
        """What the key holds in a clinician's words: "family history", "the problem list"."""
        resource_type = self.query.split("?", 1)[0].split("/", 1)[0]
        return _SUBJECTS.get(resource_type, "part of the chart")

    def render(self, context: Mapping[str, Any]) -> str | None:
        """The query with its tokens filled in from the hook context, or None if one cannot be."""
        values: dict[str, str] = {}
        for token in _TOKEN.findall(self.query):
            value = _token_value(token, context)
            if value is None:
                return None
            values[token] = quote(value, safe="")
        return _TOKEN.sub(lambda match: values[match.group(1)], self.query)


def _token_value(token: str, context: Mapping[str, Any]) -> str | None:
    if token.startswith("context."):
        value = context.get(token.removeprefix("context."))
        return value if isinstance(value, str) and value else None
    # userPractitionerId and friends come from `context.userId`, e.g. "Practitioner/123".
    user = context.get("userId")
    if not isinstance(user, str) or "/" not in user:
        return None
    resource_type, _, resource_id = user.partition("/")
    return resource_id if resource_type == USER_TOKENS[token] and resource_id else None


class PrefetchState(StrEnum):
    """What the EHR sent for one prefetch key."""

    PROVIDED = "provided"
    NO_DATA = "no-data"
    FAILED = "failed"
    MISSING = "missing"


@dataclass(frozen=True)
class PrefetchItem:
    """One prefetch key's state and, when provided, its resource."""

    key: str
    state: PrefetchState
    resource: Mapping[str, Any] | None = None


def read_prefetch(
    templates: tuple[PrefetchTemplate, ...], prefetch: Mapping[str, Any] | None
) -> dict[str, PrefetchItem]:
    """Classify what was sent for each template; `InvalidPrefetch` for a value of the wrong shape.

    Keys the service did not ask for are ignored, as the specification allows.
    """
    sent = prefetch or {}
    items: dict[str, PrefetchItem] = {}
    for template in templates:
        if template.key not in sent:
            items[template.key] = PrefetchItem(template.key, PrefetchState.MISSING)
            continue
        value = sent[template.key]
        if value is None:
            items[template.key] = PrefetchItem(template.key, PrefetchState.NO_DATA)
            continue
        resource_type = value.get("resourceType") if isinstance(value, Mapping) else None
        if not isinstance(resource_type, str):
            raise InvalidPrefetch(template.key, "not a FHIR resource (no resourceType)")
        if resource_type == OPERATION_OUTCOME:
            items[template.key] = PrefetchItem(template.key, PrefetchState.FAILED, value)
        elif resource_type != template.expected_resource_type:
            raise InvalidPrefetch(
                template.key,
                f"expected {template.expected_resource_type}, got another resource type",
            )
        else:
            items[template.key] = PrefetchItem(template.key, PrefetchState.PROVIDED, value)
    return items
