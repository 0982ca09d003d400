"""Small charts written as the FHIR resources an EHR sends, read by the real adapter.

For the card tests whose premise is a code (a drug's name, a pregnancy's SNOMED or ICD-10-CM
code, a clinical status): the chart goes through `build_patient_record`, so what the adapter
recognises is tested with what the cards make of it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from model_records import AS_OF

from fhir_adapters.codes import ICD10_CM, LOINC, RXNORM, SNOMED, UCUM
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.record_builder import build_patient_record

Json = dict[str, Any]
PATIENT_ID = "p1"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def _concept(system: str, code: str, display: str) -> Json:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _when(days: int, hour: int = 9) -> str:
    moment = datetime.combine(AS_OF - timedelta(days=days), datetime.min.time())
    return (moment + timedelta(hours=hour)).isoformat() + "Z"


def _quantity(loinc: str, value: float, unit: str, name: str, days: int) -> Json:
    return {
        "resourceType": "Observation",
        "id": f"{name}-{days}",
        "status": "final",
        "code": _concept(LOINC, loinc, name),
        "effectiveDateTime": _when(days),
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


# A typical adult's body measures and lipids: enough inputs for every model to give a number.
ADULT_MEASURES: tuple[Json, ...] = (
    _quantity("39156-5", 31.0, "kg/m2", "bmi", 30),
    _quantity("8280-0", 98.0, "cm", "waist", 30),
    _quantity("2085-9", 44.0, "mg/dL", "hdl", 200),
    _quantity("2093-3", 205.0, "mg/dL", "cholesterol", 200),
)


def blood_pressure(systolic: float, diastolic: float, days: int, hour: int = 9) -> Json:
    """An office blood pressure panel `days` before the chart's date, at `hour` o'clock."""

    def part(loinc: str, value: float) -> Json:
        return {
            "code": _concept(LOINC, loinc, "pressure"),
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    return {
        "resourceType": "Observation",
        "id": f"bp-{days}-{hour}",
        "status": "final",
        "code": _concept(LOINC, "85354-9", "Blood pressure panel"),
        "effectiveDateTime": _when(days, hour),
        "component": [part("8480-6", systolic), part("8462-4", diastolic)],
    }


def medication(
    display: str,
    rxnorm: str | None = None,
    resource_type: str = "MedicationRequest",
    status: str = "active",
) -> Json:
    """An active order (or statement) of a drug, as RxNorm's clinical-drug display names it."""
    drug: Json = {"text": display}
    if rxnorm is not None:
        drug["coding"] = [{"system": RXNORM, "code": rxnorm, "display": display}]
    return {
        "resourceType": resource_type,
        "id": "-".join(display.lower().split()[:2]),
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": drug,
        "authoredOn": (AS_OF - timedelta(days=200)).isoformat(),
    }


def condition(
    system: str,
    code: str,
    display: str,
    clinical: str = "active",
    onset_days: int | None = None,
    abatement_days: int | None = None,
) -> Json:
    """A confirmed Condition with the clinical status, onset and abatement given."""
    resource: Json = {
        "resourceType": "Condition",
        "id": f"cond-{code}",
        "code": _concept(system, code, display),
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": clinical}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
    }
    if onset_days is not None:
        resource["onsetDateTime"] = (AS_OF - timedelta(days=onset_days)).isoformat()
    if abatement_days is not None:
        resource["abatementDateTime"] = (AS_OF - timedelta(days=abatement_days)).isoformat()
    return resource


def pregnancy(
    clinical: str = "active", onset_days: int | None = 150, abatement_days: int | None = None
) -> Json:
    """A pregnancy as SNOMED CT records it (77386006 "Pregnancy")."""
    return condition(SNOMED, "77386006", "Pregnancy", clinical, onset_days, abatement_days)


def icd10_condition(code: str, display: str, clinical: str = "active") -> Json:
    """A Condition coded in ICD-10-CM."""
    return condition(ICD10_CM, code, display, clinical)


def chart(
    *resources: Json,
    age: int = 52,
    sex: str = "female",
    measures: tuple[Json, ...] = ADULT_MEASURES,
    born: date | None = None,
) -> PatientRecord:
    """The record the adapter builds from a patient of this age (or birth date), sex and the
    resources."""
    born = born or date(AS_OF.year - age, 1, 1)
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "gender": sex,
               "birthDate": born.isoformat()}  # fmt: skip
    return build_patient_record(PATIENT_ID, [patient, *measures, *resources], AS_OF)


def lab_result(loinc: str, value: float, unit: str, days: int, hour: int = 9) -> Json:
    """A final laboratory result (UCUM unit) `days` before the chart's date, at `hour` o'clock."""
    resource = _quantity(loinc, value, unit, f"lab-{loinc}", days)
    resource["id"] = f"lab-{loinc}-{days}-{hour}"
    resource["effectiveDateTime"] = _when(days, hour)
    return resource


def body_measures(bmi: float, waist: float) -> tuple[Json, ...]:
    """`ADULT_MEASURES` with this BMI and waist (cm), the lipids kept."""
    return (
        _quantity("39156-5", bmi, "kg/m2", "bmi", 30),
        _quantity("8280-0", waist, "cm", "waist", 30),
        *ADULT_MEASURES[2:],
    )
