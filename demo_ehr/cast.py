"""The demo's cast: named patients a person can tell apart, chosen so that every card the
service can give shows on at least one of them.

Each member is a chart written for the cards it should get (`chart_writer.ChartWriter`, dated
from the day the demo starts), the one line the demo EHR's patient list shows for it, and the
card types its chart gets from every service. The tests hold each member to those cards, through
the real services, and the cast as a whole to every card type `docs/cards.md` documents.

Three Synthea histories join them, for the note summary and a realistic chart's length; what
they show depends on Synthea's generator, so their lines name what the tests see them get.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from demo_ehr import cast_blood_pressure, cast_diabetes
from demo_ehr.chart_writer import CAST_IDENTIFIER_SYSTEM, CastMember

Json = dict[str, Any]


# Synthea's patients as the demo makes them (`patients.demo_synthea_run`), by the name
# `patients.synthea_patients` gives each: their line and their cards.
SYNTHEA_ROLES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "synthea-1": (
        "A long Synthea history with notes: prediabetes, no HbA1c in a year",
        ("prediabetes-monitoring", "blood-pressure-unmeasured", "note-summary"),
    ),
    "synthea-2": (
        "A long Synthea history with notes: diabetic kidney disease, treated hypertension",
        ("treated-blood-pressure-unmeasured", "note-summary"),
    ),
    "synthea-3": (
        "A long Synthea history with notes: diabetes, three antihypertensives",
        ("treated-blood-pressure-unmeasured", "note-summary"),
    ),
}


def written_cast(today: date) -> list[CastMember]:
    """The members whose charts the demo writes, dated from `today`, in the list's order."""
    return [*cast_diabetes.members(today), *cast_blood_pressure.members(today)]


def synthea_members(histories: Mapping[str, Json]) -> list[CastMember]:
    """Synthea's patients as cast members: each Patient marked with its name for the list."""
    members = []
    for name, bundle in histories.items():
        reason, cards = SYNTHEA_ROLES[name]
        members.append(CastMember(name, reason, cards, mark_patient(bundle, name)))
    return members


def mark_patient(bundle: Json, slug: str) -> Json:
    """The bundle with its Patient carrying the cast's identifier (`slug`); others unchanged."""
    entries = []
    for entry in bundle["entry"]:
        resource = entry.get("resource", {})
        if resource.get("resourceType") == "Patient":
            identifiers = [*resource.get("identifier", [])]
            identifiers.append({"system": CAST_IDENTIFIER_SYSTEM, "value": slug})
            entry = {**entry, "resource": {**resource, "identifier": identifiers}}
        entries.append(entry)
    return {**bundle, "entry": entries}


def cast_slug(patient: Json) -> str | None:
    """The cast member a Patient resource is, by the identifier the demo gave it."""
    for identifier in patient.get("identifier", []):
        if isinstance(identifier, dict) and identifier.get("system") == CAST_IDENTIFIER_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None
