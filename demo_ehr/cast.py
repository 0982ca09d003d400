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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from demo_ehr import cast_blood_pressure, cast_diabetes, cast_home_blood_pressure
from demo_ehr.chart_writer import CAST_IDENTIFIER_SYSTEM, CastMember

Json = dict[str, Any]


# Synthea's patients as the demo makes them (`patients.demo_synthea_run`), by the name
# `patients.synthea_patients` gives each: their line and their cards, as the running demo shows
# them (seen 2026-11-30; Synthea's histories end at its reference date, 2026-01-01, so "no
# reading in a year" holds from then on). The note summary may come on a second opening: the
# service answers without it while it is still being made.
SYNTHEA_ROLES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "synthea-1": (
        "Prediabetes, no HbA1c or BP in over a year; a lifetime of visits and notes",
        ("prediabetes-monitoring", "blood-pressure-unmeasured", "note-summary"),
    ),
    "synthea-2": (
        "Diabetic kidney disease, on hydrochlorothiazide, no BP in over a year; a lifetime of"
        " visits and notes",
        ("treated-blood-pressure-unmeasured", "note-summary"),
    ),
    "synthea-3": (
        "Type 2 diabetes, on three antihypertensives, no BP in over a year; a lifetime of"
        " visits and notes",
        ("treated-blood-pressure-unmeasured", "note-summary"),
    ),
}

# The patient list's groups, in its order: the members led by a diabetes card, the office blood
# pressure populations the adult numbers do not serve, the home series, then Synthea's histories.
GROUP_DIABETES = "Diabetes and glucose results, with office blood pressure"
GROUP_BLOOD_PRESSURE = "Office blood pressure"
GROUP_PREGNANCY = "Blood pressure in pregnancy and after birth"
GROUP_CHILDREN = "Blood pressure in children and adolescents"
GROUP_HOME = "Home blood pressure series beside office readings"
GROUP_LONG_HISTORIES = "Long Synthea histories with notes"
GROUPS = (
    GROUP_DIABETES,
    GROUP_BLOOD_PRESSURE,
    GROUP_PREGNANCY,
    GROUP_CHILDREN,
    GROUP_HOME,
    GROUP_LONG_HISTORIES,
)
# A blood pressure member's group by the prefix of one of its card types.
_GROUPS_BY_CARD_PREFIX = (
    (("pregnancy-", "postpartum-"), GROUP_PREGNANCY),
    (("child-", "adolescent-"), GROUP_CHILDREN),
)


@dataclass(frozen=True)
class CastLine:
    """A cast member as the demo EHR's patient list shows it: its heading and its line."""

    slug: str
    reason: str
    group: str


def written_cast(today: date) -> list[CastMember]:
    """The members whose charts the demo writes, dated from `today`, each under the heading of
    the module that writes it, in the list's order."""
    return [
        *(replace(member, group=GROUP_DIABETES) for member in cast_diabetes.members(today)),
        *(
            replace(member, group=_blood_pressure_group(member))
            for member in cast_blood_pressure.members(today)
        ),
        *(replace(member, group=GROUP_HOME) for member in cast_home_blood_pressure.members(today)),
    ]


def _blood_pressure_group(member: CastMember) -> str:
    for prefixes, named in _GROUPS_BY_CARD_PREFIX:
        if any(card.startswith(prefixes) for card in member.cards):
            return named
    return GROUP_BLOOD_PRESSURE


def cast_lines(members: Sequence[CastMember]) -> tuple[CastLine, ...]:
    """The patient list's line for each member, by group (`GROUPS`), in the cast's order within
    each."""
    lines = [CastLine(member.slug, member.reason, member.group) for member in members]
    return tuple(sorted(lines, key=lambda line: GROUPS.index(line.group)))


def synthea_members(histories: Mapping[str, Json]) -> list[CastMember]:
    """Synthea's patients as cast members: each Patient marked with its name for the list."""
    members = []
    for name, bundle in histories.items():
        reason, cards = SYNTHEA_ROLES[name]
        marked = mark_patient(bundle, name)
        members.append(CastMember(name, reason, cards, marked, GROUP_LONG_HISTORIES))
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
