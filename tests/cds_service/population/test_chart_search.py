"""Prefetch templates answered from exported resources as a FHIR server answers their queries."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.population.chart_search import UnsupportedTemplate, filled_prefetch
from cds_service.services.definition import RISK_PREFETCH
from fhir_adapters.codes import LOINC, LOINC_BMI, LOINC_HBA1C
from fhir_adapters.prefetch import PrefetchTemplate

PATIENT_ID = "p1"
LINK = {"reference": f"Patient/{PATIENT_ID}"}
# A LOINC code no risk model reads (serum sodium).
LOINC_SODIUM = "2951-2"


def observation(code: str, when: str, patient: dict[str, str] = LINK) -> dict[str, Any]:
    """An Observation of a LOINC code on a date, for a patient."""
    return {
        "resourceType": "Observation",
        "id": f"{code}-{when}",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": patient,
        "effectiveDateTime": when,
    }


def entries(prefetch: dict[str, Any], key: str) -> list[str]:
    """The ids of a prefetched searchset's entries, in order."""
    return [entry["resource"]["id"] for entry in prefetch[key]["entry"]]


CHART = [
    {"resourceType": "Patient", "id": PATIENT_ID},
    observation(LOINC_BMI, "2025-03-01"),
    observation(LOINC_HBA1C, "2026-02-01"),
    observation(LOINC_SODIUM, "2026-01-01"),
    observation(LOINC_HBA1C, "2026-03-01", {"reference": "Patient/p2"}),
    {"resourceType": "MedicationRequest", "id": "stopped", "status": "stopped", "subject": LINK},
    {"resourceType": "MedicationRequest", "id": "active", "status": "active", "subject": LINK},
]


def test_the_risk_templates_are_answered_with_their_restrictions() -> None:
    prefetch = filled_prefetch(RISK_PREFETCH, PATIENT_ID, CHART)
    assert prefetch["patient"]["id"] == PATIENT_ID
    # Risk codes only, this patient's only, newest first.
    assert entries(prefetch, "observations") == [
        f"{LOINC_HBA1C}-2026-02-01",
        f"{LOINC_BMI}-2025-03-01",
    ]
    assert entries(prefetch, "medications") == ["active"]
    assert prefetch["conditions"]["total"] == 0


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ("ge2026-01-01", [f"{LOINC_HBA1C}-2026-02-01", f"{LOINC_SODIUM}-2026-01-01"]),
        ("lt2026-01-01", [f"{LOINC_BMI}-2025-03-01"]),
        ("le2025-03", [f"{LOINC_BMI}-2025-03-01"]),
        ("2026-02", [f"{LOINC_HBA1C}-2026-02-01"]),
    ],
)
def test_a_date_restriction_is_applied(dates: str, expected: list[str]) -> None:
    template = PrefetchTemplate(
        "recent", f"Observation?patient={{{{context.patientId}}}}&date={dates}&_sort=-date"
    )
    assert entries(filled_prefetch((template,), PATIENT_ID, CHART), "recent") == expected


def test_a_first_page_template_is_cut_at_its_count() -> None:
    template = PrefetchTemplate(
        "latest", "Observation?patient={{context.patientId}}&_sort=-date&_count=1", all_pages=False
    )
    assert entries(filled_prefetch((template,), PATIENT_ID, CHART), "latest") == [
        f"{LOINC_HBA1C}-2026-02-01"
    ]


def test_a_parameter_the_export_cannot_answer_is_refused() -> None:
    template = PrefetchTemplate("coded", "Condition?patient={{context.patientId}}&category=x")
    with pytest.raises(UnsupportedTemplate, match="category"):
        filled_prefetch((template,), PATIENT_ID, CHART)


def test_a_patient_not_in_the_export_is_left_out() -> None:
    assert "patient" not in filled_prefetch(RISK_PREFETCH, "p9", CHART)
