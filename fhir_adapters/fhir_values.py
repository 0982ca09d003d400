"""Reading FHIR JSON values from plain dicts: codings, dates and references.

The hot path stays on dicts parsed by `json.loads`: validating every resource with
`fhir.resources` costs ~28 times the parse (see docs/benchmarks.md), for fields the adapter
does not read. Each reader here checks the types of exactly what it reads instead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

Resource = Mapping[str, Any]
# (system, code, display) of one coding.
Coding = tuple[str | None, str, str]
# What a JSON object may arrive as: `json.loads` gives a dict, which the exact type check in
# `isinstance` answers at once; any other Mapping (a caller's own) goes on to the slower ABC check.
JSON_OBJECT = (dict, Mapping)
# What a reference says in place of the id of a resource that has none.
NO_ID = "(no id)"


def reference_of(resource: Resource) -> str:
    """The resource's relative reference, e.g. "Observation/123", for provenance and paths."""
    resource_id = resource.get("id")
    resource_type = resource.get("resourceType", "Resource")
    if isinstance(resource_id, str) and resource_id:
        return f"{resource_type}/{resource_id}"
    return f"{resource_type}/{NO_ID}"


def json_array(value: object) -> list[Any]:
    """A JSON array, or an empty one for anything else: a sender's `"coding": 5` is no coding,
    not a TypeError."""
    return value if isinstance(value, list) else []


def codings(concept: object) -> list[Coding]:
    """(system, code, display) of each coding of a CodeableConcept that has a code."""
    if not isinstance(concept, JSON_OBJECT):
        return []
    found = []
    for coding in json_array(concept.get("coding")):
        if not isinstance(coding, JSON_OBJECT):
            continue
        code = coding.get("code")
        if isinstance(code, str) and code:
            system = coding.get("system")
            display = coding.get("display")
            found.append(
                (
                    system if isinstance(system, str) else None,
                    code.strip(),
                    display if isinstance(display, str) else "",
                )
            )
    return found


def code_in(concept: object, system: str) -> list[str]:
    """The concept's codes from one code system."""
    return [code for coding_system, code, _ in codings(concept) if coding_system == system]


def concept_text(concept: object) -> str:
    """The human-readable words of a CodeableConcept: its text, else its first display."""
    if not isinstance(concept, JSON_OBJECT):
        return ""
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    return next((display for _, _, display in codings(concept) if display), "")


def concept_words(concept: object) -> str:
    """All displays and the text of a concept, lower case, for matching names in them."""
    if not isinstance(concept, JSON_OBJECT):
        return ""
    words = [display for _, _, display in codings(concept)]
    text = concept.get("text")
    if isinstance(text, str):
        words.append(text)
    return " ".join(words).lower()


def status_code(concept: object) -> str | None:
    """The first code of a status CodeableConcept (Condition.clinicalStatus and friends)."""
    found = codings(concept)
    return found[0][1] if found else None


def finite_number(value: object) -> float | None:
    """A JSON number as a finite float; None for anything else (text, booleans, NaN, and
    integers such as 10**400 that no float can hold)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def parse_date_time(value: object) -> datetime | None:
    """A FHIR date or dateTime as an aware UTC datetime; partial dates start their period."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if len(value) <= 10:
            parts = [int(part) for part in value.split("-")]
            year, month, day = [*parts, 1, 1][:3]
            return datetime(year, month, day, tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # FHIR requires a zone with a time; a sender that omits it is read as UTC.
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None  # 0001-01-01T00:00:00+14:00: a moment before the first one Python has


def parse_date(value: object) -> date | None:
    """A FHIR date or dateTime as a date (the day in UTC)."""
    parsed = parse_date_time(value)
    return parsed.date() if parsed is not None else None


def period_start(value: object) -> datetime | None:
    """A Period's start, else its end."""
    if not isinstance(value, JSON_OBJECT):
        return None
    return parse_date_time(value.get("start")) or parse_date_time(value.get("end"))


def period_end(value: object) -> datetime | None:
    """A Period's end, else None (an open period has not ended)."""
    if not isinstance(value, JSON_OBJECT):
        return None
    return parse_date_time(value.get("end"))


def patient_name(patient: Resource) -> str:
    """ "Given Family" from a Patient's official name (else its first), or its text; '' if none."""
    names = [name for name in json_array(patient.get("name")) if isinstance(name, JSON_OBJECT)]
    if not names:
        return ""
    chosen = next((name for name in names if name.get("use") == "official"), names[0])
    given = [part for part in json_array(chosen.get("given")) if isinstance(part, str)]
    family = chosen.get("family")
    if not isinstance(family, str):
        family = ""
    spoken = " ".join([*given, family]).strip()
    text = chosen.get("text")
    return spoken or (text if isinstance(text, str) else "")
