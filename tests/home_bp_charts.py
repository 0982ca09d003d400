"""Home blood pressure readings written as the FHIR resources home monitoring sends.

A reading is a blood pressure panel (LOINC 85354-9) marked as taken at home in one of the ways
EHRs and device platforms mark it: by its performer (the patient, as US Core and HL7 CardX's
self-measured profile do), its profile (CardX, HL7 Personal Health Device), its method, or
its device's name. `home_week` writes a monitoring week as ACC/AHA 2017 (Table 12) asks for
it: 2 readings a minute apart each morning and each evening.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from model_records import AS_OF

from fhir_adapters.codes import LOINC, UCUM

Json = dict[str, Any]
PATIENT_ID = "p1"
CARDX_SELF_MEASURED = "http://hl7.org/fhir/uv/cardx-htn-mng/StructureDefinition/self-measured-bp"
PHD_COMPOUND = "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCompoundNumericObservation"
MORNING, EVENING = 7, 19

# How a home reading says it is one: each a set of members added to the panel.
BY_PATIENT: Json = {"performer": [{"reference": f"Patient/{PATIENT_ID}"}]}
MARKINGS: dict[str, Json] = {
    "performer Patient (US Core, CardX)": BY_PATIENT,
    "performer RelatedPerson (a carer)": {"performer": [{"reference": "RelatedPerson/r1"}]},
    "CardX self-measured-bp profile": {"meta": {"profile": [CARDX_SELF_MEASURED]}},
    "PHD device profile": {
        "meta": {"profile": [PHD_COMPOUND]},
        "device": {"reference": "Device/d"},
    },
    "method text": {"method": {"text": "Self-measured blood pressure"}},
    "device named home monitor": {"device": {"display": "Home blood pressure monitor"}},
}


def _moment(days: int, hour: int, minute: int = 0) -> str:
    moment = datetime.combine(AS_OF - timedelta(days=days), datetime.min.time())
    return (moment + timedelta(hours=hour, minutes=minute)).isoformat() + "Z"


def home_reading(
    systolic: float,
    diastolic: float,
    days: int,
    hour: int = MORNING,
    minute: int = 0,
    marking: Json = BY_PATIENT,
) -> Json:
    """One home blood pressure panel `days` before the chart's date, at hour:minute."""

    def part(loinc: str, value: float) -> Json:
        return {
            "code": {"coding": [{"system": LOINC, "code": loinc}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": f"home-bp-{days}-{hour}-{minute}",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}], "text": "Blood pressure"},
        "effectiveDateTime": _moment(days, hour, minute),
        "component": [part("8480-6", systolic), part("8462-4", diastolic)],
        **marking,
    }


def home_week(
    systolic: float,
    diastolic: float,
    days: Iterable[int] = range(7, 0, -1),
    hours: tuple[int, ...] = (MORNING, EVENING),
    per_session: int = 2,
) -> tuple[Json, ...]:
    """Readings on each of `days` (days before the chart's date), `per_session` a minute
    apart at each of `hours`; all at the same pressure."""
    return tuple(
        home_reading(systolic, diastolic, day, hour, minute)
        for day in days
        for hour in hours
        for minute in range(per_session)
    )
