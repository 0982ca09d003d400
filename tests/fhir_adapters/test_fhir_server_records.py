"""Records built against a real FHIR server (sekmet) holding the synthetic patients.

For every patient: the record from an EHR's prefetch equals the record from the service's own
reads, and its values match the source resources field by field, units included.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from fhir_servers import SekmetServer, every_page, resolve_prefetch_as_an_ehr
from synthetic_patients import PATIENT_NAMES

from cds_service.catalog import DEFINITIONS
from cds_service.services import diabetes_risk, note_summary
from cds_service.services.definition import CdsServiceDefinition
from fhir_adapters.codes import ConditionKind, Measure
from fhir_adapters.fhir_server import FhirAccess, FhirFetcher
from fhir_adapters.gathering import PatientDataGatherer
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.prefetch import PrefetchTemplate
from fhir_adapters.record_builder import record_from_gathered

AS_OF = date(2026, 11, 23)
PATIENTS = list(PATIENT_NAMES)
UCUM = "http://unitsofmeasure.org"

# The oracle, written from shared/reference/clinical.md rather than from the adapter's tables:
# LOINC -> measure, and each fixture unit's factor to the measure's canonical unit.
MEASURES = {
    "4548-4": Measure.HBA1C, "59261-8": Measure.HBA1C,
    "2345-7": Measure.GLUCOSE_RANDOM, "2339-0": Measure.GLUCOSE_RANDOM,
    "1558-6": Measure.GLUCOSE_FASTING, "39156-5": Measure.BMI,
    "29463-7": Measure.BODY_WEIGHT, "8302-2": Measure.BODY_HEIGHT,
    "8280-0": Measure.WAIST_CIRCUMFERENCE, "2085-9": Measure.HDL_CHOLESTEROL,
    "2093-3": Measure.TOTAL_CHOLESTEROL, "2571-8": Measure.TRIGLYCERIDES,
    "13457-7": Measure.LDL_CHOLESTEROL, "18262-6": Measure.LDL_CHOLESTEROL,
}  # fmt: skip
CANONICAL_UNITS = {
    Measure.HBA1C: "%", Measure.BMI: "kg/m2", Measure.BODY_WEIGHT: "kg",
    Measure.BODY_HEIGHT: "cm", Measure.WAIST_CIRCUMFERENCE: "cm",
}  # fmt: skip
CHOLESTEROLS = (Measure.HDL_CHOLESTEROL, Measure.TOTAL_CHOLESTEROL, Measure.LDL_CHOLESTEROL)


def expected_value(measure: Measure, value: float, unit: str) -> float | None:
    """The value in the canonical unit, by the published factors; None for a unit not listed."""
    canonical = CANONICAL_UNITS.get(measure, "mg/dL")
    if unit == canonical:
        return value
    if measure is Measure.HBA1C and unit == "mmol/mol":
        return value * 0.09148 + 2.152
    if measure in (Measure.GLUCOSE_RANDOM, Measure.GLUCOSE_FASTING) and unit == "mmol/L":
        return value * 18.016
    if measure is Measure.BODY_WEIGHT and unit == "[lb_av]":
        return value * 0.45359237
    if measure is Measure.BODY_HEIGHT and unit == "[in_i]":
        return value * 2.54
    if measure in CHOLESTEROLS and unit == "mmol/L":
        return value * 38.67
    if measure is Measure.TRIGLYCERIDES and unit == "mmol/L":
        return value * 88.57
    return None


DIAGNOSES = {
    "44054006": ConditionKind.DIABETES, "73211009": ConditionKind.DIABETES,
    "714628002": ConditionKind.PREDIABETES, "15777000": ConditionKind.PREDIABETES,
    "59621000": ConditionKind.HYPERTENSION, "38341003": ConditionKind.HYPERTENSION,
    "E11.9": ConditionKind.DIABETES, "I10": ConditionKind.HYPERTENSION,
    "E11.65": ConditionKind.DIABETES, "R73.03": ConditionKind.PREDIABETES,
    # Synthea's diabetic kidney disease codes mean diabetes (issue 16, item 10).
    "127013003": ConditionKind.DIABETES, "90781000119102": ConditionKind.DIABETES,
    "157141000119108": ConditionKind.DIABETES,
    # Read whatever their status; only an active one is a current pregnancy.
    "77386006": ConditionKind.PREGNANCY, "72892002": ConditionKind.PREGNANCY,
}  # fmt: skip
INGREDIENTS = ("metformin", "lisinopril", "amlodipine", "hydrochlorothiazide", "losartan",
               "insulin", "glipizide", "metoprolol", "atenolol", "chlorthalidone", "carvedilol",
               "furosemide", "spironolactone", "empagliflozin", "sitagliptin")  # fmt: skip


# A generous budget: these tests are about what is read, the fault tests about time.
GENEROUS_BUDGET_SECONDS = 60.0


@pytest.fixture(scope="module")
def gatherer() -> Iterator[PatientDataGatherer]:
    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        yield PatientDataGatherer(FhirFetcher(client, pool, max_pages=100))


def build(
    gatherer: PatientDataGatherer,
    server: SekmetServer,
    patient_id: str,
    templates: tuple[PrefetchTemplate, ...],
    prefetch: dict[str, Any] | None,
) -> PatientRecord:
    context = {"patientId": patient_id, "userId": "Practitioner/demo"}
    access = FhirAccess(server.base_url, server.access_token, patient_id)
    gathered = gatherer.gather(templates, prefetch, context, access, GENEROUS_BUDGET_SECONDS)
    return record_from_gathered(patient_id, gathered, AS_OF)


@pytest.mark.parametrize("service", DEFINITIONS, ids=lambda service: service.id)
@pytest.mark.parametrize("name", PATIENTS)
def test_prefetch_and_the_fhir_server_give_the_same_record(
    name: str,
    service: CdsServiceDefinition,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    gatherer: PatientDataGatherer,
) -> None:
    patient_id = loaded_patients[name]
    templates = service.discovery_entry()["prefetch"]
    prefetch = resolve_prefetch_as_an_ehr(fhir_server, templates, patient_id)

    from_prefetch = build(gatherer, fhir_server, patient_id, service.prefetch, prefetch)
    from_server = build(gatherer, fhir_server, patient_id, service.prefetch, None)

    assert from_prefetch == from_server
    assert from_server.demographics.age_years is not None
    if service is note_summary.DEFINITION and name.startswith("synthea"):
        assert len(from_server.notes) == 20  # the 20 most recent: the first page only
    elif service is not note_summary.DEFINITION:
        assert from_server.measurements


def full_record(
    gatherer: PatientDataGatherer, server: SekmetServer, patient_id: str
) -> PatientRecord:
    templates = (*diabetes_risk.DEFINITION.prefetch, *note_summary.DEFINITION.prefetch[1:])
    return build(gatherer, server, patient_id, templates, None)


@pytest.mark.parametrize("name", PATIENTS)
def test_record_values_match_the_source_resources(
    name: str,
    fhir_server: SekmetServer,
    loaded_patients: dict[str, str],
    gatherer: PatientDataGatherer,
) -> None:
    patient_id = loaded_patients[name]
    record = full_record(gatherer, fhir_server, patient_id)
    issue_paths = [issue.path for issue in record.data_issues]

    patient = fhir_server.get(f"Patient/{patient_id}")
    born = date.fromisoformat(patient["birthDate"])
    assert record.demographics.sex.value == patient["gender"]
    assert record.demographics.birth_date == born
    assert record.demographics.age_years == AS_OF.year - born.year - (
        (AS_OF.month, AS_OF.day) < (born.month, born.day)
    )

    observations = every_page(fhir_server, f"Observation?patient={patient_id}&_count=200")
    recorded = {m.source: m for m in record.measurements if not m.derived_from}
    readings = {source: r for r in record.blood_pressure for source in r.sources}
    checked = 0
    for observation in observations:
        if observation["status"] != "final":
            continue
        source = f"Observation/{observation['id']}"
        loinc = observation["code"]["coding"][0]["code"]
        quantity = observation.get("valueQuantity", {})
        measure = MEASURES.get(loinc)
        if measure is not None:
            unit = quantity.get("code") if quantity.get("system") == UCUM else None
            expected = expected_value(measure, quantity["value"], unit) if unit else None
            if (
                expected is None
                or source in issue_paths
                or f"{source}.valueQuantity" in issue_paths
            ):
                assert f"{source}.valueQuantity" in issue_paths, source
                continue
            measurement = recorded.pop(source)
            assert measurement.measure is measure
            assert measurement.value == pytest.approx(expected, rel=1e-9)
            assert measurement.unit == CANONICAL_UNITS.get(measure, "mg/dL")
            assert measurement.effective == datetime.fromisoformat(observation["effectiveDateTime"])
            checked += 1
        elif loinc in ("85354-9", "55284-4"):
            parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"]
                     for c in observation["component"]}  # fmt: skip
            if any(source in path for path in issue_paths):
                continue
            reading = readings[source]
            assert (reading.systolic, reading.diastolic) == (parts["8480-6"], parts["8462-4"])
            checked += 1
        elif loinc in ("8480-6", "8462-4") and not any(source in p for p in issue_paths):
            reading = readings[source]
            part = reading.systolic if loinc == "8480-6" else reading.diastolic
            assert part == quantity["value"]
            checked += 1
    assert recorded == {}, "measurements with no source observation"
    assert checked > 0

    conditions = every_page(fhir_server, f"Condition?patient={patient_id}&_count=200")
    expected_conditions = {
        (f"Condition/{c['id']}", DIAGNOSES[c["code"]["coding"][0]["code"]])
        for c in conditions
        if c["code"]["coding"][0]["code"] in DIAGNOSES
        and c.get("verificationStatus", {}).get("coding", [{}])[0].get("code")
        not in ("refuted", "entered-in-error")
    }
    assert {(c.source, c.kind) for c in record.conditions} == expected_conditions

    taken = [
        resource
        for kind in ("MedicationRequest", "MedicationStatement")
        for resource in every_page(fhir_server, f"{kind}?patient={patient_id}&status=active")
    ]
    expected_medications = {
        (f"{item['resourceType']}/{item['id']}", ingredient)
        for item in taken
        for ingredient in INGREDIENTS
        if ingredient in json.dumps(item["medicationCodeableConcept"]).lower()
    }
    assert {(m.source, m.ingredient) for m in record.medications} == expected_medications

    documents = fhir_server.get("DocumentReference", patient=patient_id, _sort="-date", _count=20)
    for entry in documents.get("entry", []):
        document = entry["resource"]
        attachment = document["content"][0]["attachment"]
        # Plain UTF-8 text here; the other encodings and types are the messy variant's test.
        if "data" not in attachment or attachment["contentType"].lower().replace(" ", "") not in (
            "text/plain",
            "text/plain;charset=utf-8",
        ):
            continue
        text = base64.b64decode(attachment["data"]).decode("utf-8")
        note = next(n for n in record.notes if n.source == f"DocumentReference/{document['id']}")
        assert " ".join(note.text.split()) == " ".join(text.replace("\\n", "\n").split())


def test_the_messy_chart_keeps_what_is_usable_and_says_what_is_not(
    fhir_server: SekmetServer, loaded_patients: dict[str, str], gatherer: PatientDataGatherer
) -> None:
    record = full_record(gatherer, fhir_server, loaded_patients["variant-messy"])
    reasons = [issue.reason for issue in record.data_issues]

    # Withdrawn results are not data: the entered-in-error HbA1c of 9.9 % is nowhere.
    assert [m.value for m in record.history(Measure.HBA1C)] != []
    assert 9.9 not in [m.value for m in record.history(Measure.HBA1C)]
    assert 250 not in [m.value for m in record.history(Measure.GLUCOSE_RANDOM)]
    # Implausible or unknown values are refused with their reason, not clipped.
    assert "BMI 900 kg/m2 is outside the plausible range 10-100 kg/m2" in reasons
    assert any(r.startswith("systolic pressure 20 mm[Hg] is outside") for r in reasons)
    assert "unit 'stone' is not a known unit of body weight" in reasons
    assert 900 not in [m.value for m in record.history(Measure.BMI)]
    # Refuted and entered-in-error diagnoses are not diagnoses; a family history is not one.
    assert not record.has_condition(ConditionKind.DIABETES)
    assert not record.has_condition(ConditionKind.HYPERTENSION)
    assert [f.kind for f in record.family_history] == [ConditionKind.DIABETES]
    # The stopped metformin is not taken; the amlodipine given only as text is, and so is the
    # lisinopril the patient reports taking.
    assert sorted((m.source.split("/")[0], m.ingredient) for m in record.medications) == [
        ("MedicationRequest", "amlodipine"),
        ("MedicationStatement", "lisinopril"),
    ]
    # This server does not support `patient` on FamilyMemberHistory: asked for strict
    # handling it says so, rather than answering with every patient's family history.
    (family_history,) = [i for i in record.data_issues if i.path == "prefetch.familyHistory"]
    assert "answered 400" in family_history.reason

    texts = [note.text for note in record.notes]
    assert "Café au lait spots noted. Patient denies chest pain." in texts
    assert "Telehealth visit. Blood pressure at home 138/88." in texts
    assert "Discharge summary\n\nAdmitted for pneumonia.\nDischarged home." in texts
    assert (
        "ASSESSMENT AND PLAN:\n1. Prediabetes - recheck HbA1c in 6 months.\n2. No fever." in texts
    )
    # Read from the FHIR server by the attachment's URL.
    assert "Radiology: chest X-ray shows no pneumothorax." in texts
    assert "No acute cardiopulmonary abnormality." in texts
    assert "Chest radiograph, two views. Lungs are clear." in texts
    assert "content type 'application/pdf' is not supported" in reasons
