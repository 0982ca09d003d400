"""FHIR resources to `PatientRecord`: each rule of the mapping, one small chart at a time."""

from __future__ import annotations

import base64
import random
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cds_service.services.definition import RISK_PREFETCH
from fhir_adapters.codes import (
    ICD10_CM,
    LOINC,
    ROLE_CODE,
    RXNORM,
    SNOMED,
    UCUM,
    ConditionKind,
    DrugClass,
    Kinship,
    Measure,
    SmokingStatus,
)
from fhir_adapters.fhir_values import patient_name
from fhir_adapters.gathering import FETCH_FAILED, GatheredData
from fhir_adapters.patient_record import (
    AdministrativeSex,
    ClinicalStatus,
    DataIssue,
    MeasurementSetting,
    PatientRecord,
    Treatment,
)
from fhir_adapters.record_builder import build_patient_record, record_from_gathered

AS_OF = date(2026, 11, 23)
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-11-24"}


def concept(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def observation(
    oid: str, loinc: str, value: float | None = None, unit: str = "", when: str = "2026-01-01",
    status: str = "final", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": concept(LOINC, loinc),
        "effectiveDateTime": when,
        **extra,
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return resource


def pressure(loinc: str, value: float) -> dict[str, Any]:
    return {
        "code": concept(LOINC, loinc),
        "valueQuantity": {"value": value, "system": UCUM, "code": "mm[Hg]", "unit": "mmHg"},
    }


def bp_panel(
    oid: str, systolic: float, diastolic: float, when: str, **extra: Any
) -> dict[str, Any]:
    return observation(
        oid, "85354-9", when=when,
        component=[pressure("8480-6", systolic), pressure("8462-4", diastolic)], **extra,
    )  # fmt: skip


def record(*resources: dict[str, Any], **options: Any) -> PatientRecord:
    return build_patient_record("p1", [PATIENT, *resources], AS_OF, **options)


def test_demographics_give_age_at_the_record_date() -> None:
    built = record()
    assert built.demographics.sex is AdministrativeSex.FEMALE
    assert built.demographics.birth_date == date(1970, 11, 24)
    assert built.demographics.age_years == 55  # the 56th birthday is tomorrow


def test_a_missing_patient_is_an_issue_not_a_crash() -> None:
    built = build_patient_record("p1", [], AS_OF)
    assert built.demographics.age_years is None
    assert built.data_issues == (DataIssue("Patient/p1", "the Patient resource was not available"),)


def test_measurements_are_converted_dated_and_newest_first() -> None:
    built = record(
        observation("a1", "4548-4", 6.1, "%", when="2024-03-02"),
        observation("a2", "59261-8", 53, "mmol/mol", when="2025-06-01T08:30:00+02:00"),
        observation("w", "29463-7", 220, "[lb_av]"),
    )
    history = list(built.history(Measure.HBA1C))
    assert [m.source for m in history] == ["Observation/a2", "Observation/a1"]
    assert history[0].value == pytest.approx(53 * 0.09148 + 2.152)
    assert history[0].unit == "%"
    assert history[0].effective == datetime(2025, 6, 1, 6, 30, tzinfo=UTC)
    weight = built.latest(Measure.BODY_WEIGHT)
    assert weight is not None
    assert weight.value == pytest.approx(220 * 0.45359237)


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_withdrawn_results_are_ignored(status: str) -> None:
    built = record(observation("x", "4548-4", 9.9, "%", status=status))
    assert built.latest(Measure.HBA1C) is None
    assert built.data_issues == ()


@pytest.mark.parametrize(
    ("resource", "issue"),
    [
        (
            observation("b", "39156-5", 900, "kg/m2"),
            DataIssue(
                "Observation/b.valueQuantity",
                "BMI 900 kg/m2 is outside the plausible range 10-100 kg/m2",
            ),
        ),
        (
            {**observation("w", "29463-7"), "valueQuantity": {"value": 14, "unit": "stone"}},
            DataIssue(
                "Observation/w.valueQuantity", "unit 'stone' is not a known unit of body weight"
            ),
        ),
        (
            observation("p", "4548-4", 6.0, "%", status="preliminary"),
            DataIssue("Observation/p.status", "status 'preliminary' is not a result"),
        ),
        (
            {**observation("n", "4548-4", 6.0, "%"), "effectiveDateTime": None},
            DataIssue("Observation/n.effective[x]", "no date"),
        ),
        (
            bp_panel("bp", 20, 80, "2026-01-03"),
            DataIssue(
                "Observation/bp.component[0].valueQuantity",
                "systolic pressure 20 mm[Hg] is outside the plausible range 50-300 mm[Hg]",
            ),
        ),
        (
            bp_panel("bp", 80, 95, "2026-01-03"),
            DataIssue("Observation/bp", "systolic 80 mm[Hg] is not above diastolic 95 mm[Hg]"),
        ),
    ],
)
def test_unusable_values_are_rejected_with_the_path_and_reason(
    resource: dict[str, Any], issue: DataIssue
) -> None:
    built = record(resource)
    assert built.data_issues == (issue,)
    assert built.measurements == ()
    assert built.blood_pressure == ()


def test_bmi_is_derived_only_when_not_recorded() -> None:
    weight = observation("w", "29463-7", 81, "kg", when="2026-02-01")
    height = observation("h", "8302-2", 180, "cm", when="2020-01-01")
    derived = record(weight, height).latest(Measure.BMI)
    assert derived is not None
    assert derived.value == pytest.approx(81 / 1.8**2)
    assert derived.derived_from == ("Observation/w", "Observation/h")
    assert derived.effective == datetime(2026, 2, 1, tzinfo=UTC)

    recorded = record(weight, height, observation("b", "39156-5", 24.0, "kg/m2")).latest(
        Measure.BMI
    )
    assert recorded is not None
    assert (recorded.value, recorded.derived_from) == (24.0, ())


def test_blood_pressure_panels_loose_readings_and_home_readings() -> None:
    loose_time = "2026-03-01T10:00:00Z"
    built = record(
        bp_panel("panel", 128, 82, "2026-01-01T09:00:00Z"),
        # Some EHRs store the panel's parts again as loose readings: one reading, not two.
        observation("dup-s", "8480-6", 128, "mm[Hg]", when="2026-01-01T09:00:00Z"),
        observation("s", "8480-6", 141, "mm[Hg]", when=loose_time),
        observation("d", "8462-4", 92, "mm[Hg]", when=loose_time),
        bp_panel(
            "home",
            135,
            85,
            "2026-02-01T07:00:00Z",
            code=concept(LOINC, "55284-4"),
            method={"text": "Home blood pressure monitor"},
        ),
        bp_panel("self", 131, 84, "2026-02-02T07:00:00Z", performer=[{"reference": "Patient/p1"}]),
    )
    readings = [(r.systolic, r.diastolic, r.setting, r.sources) for r in built.blood_pressure]
    assert readings == [
        (141, 92, MeasurementSetting.NOT_STATED, ("Observation/s", "Observation/d")),
        (131, 84, MeasurementSetting.HOME, ("Observation/self",)),
        (135, 85, MeasurementSetting.HOME, ("Observation/home",)),
        (128, 82, MeasurementSetting.NOT_STATED, ("Observation/panel", "Observation/dup-s")),
    ]
    assert built.data_issues == ()


def test_smoking_status_by_snomed() -> None:
    built = record(
        observation("s1", "72166-2", when="2020-01-01",
                    valueCodeableConcept=concept(SNOMED, "449868002")),
        observation("s2", "72166-2", when="2025-01-01",
                    valueCodeableConcept=concept(SNOMED, "8517006")),
        observation("s3", "72166-2", when="2026-01-01",
                    valueCodeableConcept=concept("http://example.org/local", "SMK")),
    )  # fmt: skip
    assert built.smoking_status is SmokingStatus.FORMER
    assert [issue.path for issue in built.data_issues] == ["Observation/s3.valueCodeableConcept"]


def condition(cid: str, system: str, code: str, clinical: str = "active",
              verification: str = "confirmed") -> dict[str, Any]:  # fmt: skip
    return {
        "resourceType": "Condition",
        "id": cid,
        "code": concept(system, code, "a display"),
        "clinicalStatus": concept(
            "http://terminology.hl7.org/CodeSystem/condition-clinical", clinical
        ),
        "verificationStatus": concept(
            "http://terminology.hl7.org/CodeSystem/condition-ver-status", verification
        ),
        "recordedDate": "2024-05-01",
    }


@pytest.mark.parametrize(
    ("system", "code", "kind"),
    [
        (ICD10_CM, "E11.9", ConditionKind.DIABETES),
        (ICD10_CM, "E119", ConditionKind.DIABETES),
        # Gestational or pre-existing diabetes "in pregnancy" means a pregnancy too.
        (ICD10_CM, "O24.410", (ConditionKind.GESTATIONAL_DIABETES, ConditionKind.PREGNANCY)),
        (ICD10_CM, "O24.011", (ConditionKind.DIABETES, ConditionKind.PREGNANCY)),
        (ICD10_CM, "O24.03", ConditionKind.DIABETES),  # in the puerperium: no pregnancy
        (ICD10_CM, "R73.03", ConditionKind.PREDIABETES),
        (ICD10_CM, "I10", ConditionKind.HYPERTENSION),
        (ICD10_CM, "I13.0", ConditionKind.HYPERTENSION),
        (SNOMED, "44054006", ConditionKind.DIABETES),
        (SNOMED, "714628002", ConditionKind.PREDIABETES),
        (SNOMED, "59621000", ConditionKind.HYPERTENSION),
        (ICD10_CM, "E78.5", None),
        (ICD10_CM, "R73.9", None),
        (SNOMED, "77386006", ConditionKind.PREGNANCY),
        (SNOMED, "72892002", ConditionKind.PREGNANCY),
        (ICD10_CM, "Z33.1", ConditionKind.PREGNANCY),
        (ICD10_CM, "Z34.00", ConditionKind.PREGNANCY),
        (ICD10_CM, "O09.511", ConditionKind.PREGNANCY),
        (ICD10_CM, "Z33.2", None),  # elective termination, not a pregnancy to care for
        (SNOMED, "161744009", None),  # past history of miscarriage
    ],
)
def test_conditions_by_value_set(
    system: str, code: str, kind: ConditionKind | tuple[ConditionKind, ...] | None
) -> None:
    built = record(condition("c", system, code))
    expected = kind if isinstance(kind, tuple) else (kind,) if kind else ()
    assert sorted(c.kind for c in built.conditions) == sorted(expected)


@pytest.mark.parametrize(
    ("clinical", "verification", "expected"),
    [
        ("active", "confirmed", ClinicalStatus.ACTIVE),
        ("relapse", "provisional", ClinicalStatus.ACTIVE),
        ("resolved", "confirmed", ClinicalStatus.RESOLVED),
        ("remission", "confirmed", ClinicalStatus.RESOLVED),
        ("active", "refuted", None),
        ("active", "entered-in-error", None),
    ],
)
def test_condition_status(
    clinical: str, verification: str, expected: ClinicalStatus | None
) -> None:
    built = record(condition("c", ICD10_CM, "E11.9", clinical, verification))
    assert [c.clinical_status for c in built.conditions] == ([expected] if expected else [])
    assert built.has_condition(ConditionKind.DIABETES) is (expected is ClinicalStatus.ACTIVE)


@pytest.mark.parametrize(
    ("clinical", "abatement", "current"),
    [("active", None, True), ("active", "2026-06-01", False), ("resolved", None, False),
     ("inactive", None, False)],
)  # fmt: skip
def test_only_an_active_pregnancy_without_an_end_is_current(
    clinical: str, abatement: str | None, current: bool
) -> None:
    resource = condition("preg", SNOMED, "77386006", clinical)
    if abatement is not None:
        resource["abatementDateTime"] = abatement
    built = record(resource)
    assert [c.kind for c in built.conditions] == [ConditionKind.PREGNANCY]
    assert (built.pregnancy is not None) is current


def medication(mid: str, status: str, display: str, code: str | None = None,
               resource_type: str = "MedicationRequest") -> dict[str, Any]:  # fmt: skip
    drug: dict[str, Any] = {"text": display}
    if code:
        drug["coding"] = [{"system": RXNORM, "code": code, "display": display}]
    return {
        "resourceType": resource_type, "id": mid, "status": status, "intent": "order",
        "medicationCodeableConcept": drug, "authoredOn": "2025-01-01",
    }  # fmt: skip


def test_medications_by_ingredient_and_status() -> None:
    built = record(
        medication("m1", "active", "metformin hydrochloride 500 MG Oral Tablet", "861007"),
        medication("m2", "stopped", "lisinopril 10 MG Oral Tablet", "314076"),
        medication("m3", "active", "amLODIPine 5 mg tablet"),
        medication("m4", "active", "sitagliptin 50 MG / metformin 1000 MG Oral Tablet"),
        medication("m5", "active", "atorvastatin 20 MG Oral Tablet", "617310"),
        medication("m6", "active", "Losartan 50 mg", resource_type="MedicationStatement"),
    )
    found = sorted((m.source, m.drug_class, m.ingredient) for m in built.medications)
    assert found == [
        ("MedicationRequest/m1", DrugClass.ANTIDIABETIC, "metformin"),
        ("MedicationRequest/m3", DrugClass.ANTIHYPERTENSIVE, "amlodipine"),
        ("MedicationRequest/m4", DrugClass.ANTIDIABETIC, "sitagliptin / metformin"),
        ("MedicationStatement/m6", DrugClass.ANTIHYPERTENSIVE, "losartan"),
    ]
    assert built.takes(DrugClass.ANTIHYPERTENSIVE)


def test_medication_references_are_resolved_or_reported() -> None:
    contained = {
        **medication("m1", "active", ""),
        "medicationCodeableConcept": None,
        "medicationReference": {"reference": "#med"},
        "contained": [{"resourceType": "Medication", "id": "med",
                       "code": {"text": "Insulin glargine 100 UNT/ML"}}],
    }  # fmt: skip
    dangling = {
        **medication("m2", "active", ""),
        "medicationCodeableConcept": None,
        "medicationReference": {"reference": "Medication/elsewhere"},
    }
    built = record(contained, dangling)
    assert [(m.drug_class, m.ingredient) for m in built.medications] == [
        (DrugClass.ANTIDIABETIC, "insulin")
    ]
    assert built.data_issues == (
        DataIssue(
            "MedicationRequest/m2.medicationReference", "the Medication it names was not found"
        ),
    )


# (keys that could not be read, keys read only in part, the medication lists left unread)
MEDICATION_LISTS_READ = [
    (("medications", "medicationStatements"), (), ("MedicationRequest", "MedicationStatement")),
    (("medications",), (), ("MedicationRequest",)),
    ((), ("medicationStatements",), ("MedicationStatement",)),
    (("familyHistory",), ("observations",), ()),
    ((), (), ()),
]


@pytest.mark.parametrize(("unread", "partly_read", "expected"), MEDICATION_LISTS_READ)
def test_a_medication_list_not_read_in_full_leaves_treatment_unknown(
    unread: tuple[str, ...], partly_read: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    # The risk services' own keys and the words gathering gives each (`PrefetchTemplate.subject`).
    subjects = {template.key: template.subject for template in RISK_PREFETCH}
    gathered = GatheredData(
        {"patient": (PATIENT,)},
        unavailable=dict.fromkeys(unread, FETCH_FAILED),
        incomplete=dict.fromkeys(partly_read, "a later page could not be read"),
        subjects=subjects,
    )
    built = record_from_gathered("p1", gathered, AS_OF)
    assert built.unread_medication_lists == expected
    known = Treatment.UNKNOWN if expected else Treatment.NOT_TAKEN
    assert built.treatment(DrugClass.ANTIHYPERTENSIVE) is known
    assert built.treatment(DrugClass.ANTIDIABETIC) is known


def test_a_drug_read_from_one_list_is_taken_whatever_the_other() -> None:
    losartan = medication("m6", "active", "Losartan 50 mg", resource_type="MedicationStatement")
    built = record(losartan, unread_medication_lists=("MedicationRequest",))
    assert built.treatment(DrugClass.ANTIHYPERTENSIVE) is Treatment.TAKEN
    assert built.treatment(DrugClass.ANTIDIABETIC) is Treatment.UNKNOWN
    assert built.unread_medications == "medication orders"
    assert record(losartan).treatment(DrugClass.ANTIDIABETIC) is Treatment.NOT_TAKEN


def test_family_history_from_relatives_and_findings() -> None:
    mother = {
        "resourceType": "FamilyMemberHistory", "id": "f1", "status": "completed",
        "relationship": concept(ROLE_CODE, "MTH"),
        "condition": [{"code": concept(SNOMED, "38341003")}],
    }  # fmt: skip
    finding = condition("c", SNOMED, "160303001")
    built = record(mother, finding)
    facts = sorted((f.kind, f.kinship, f.source) for f in built.family_history)
    assert facts == [
        (ConditionKind.DIABETES, Kinship.UNSTATED, "Condition/c"),
        (ConditionKind.HYPERTENSION, Kinship.PARENT, "FamilyMemberHistory/f1"),
    ]
    assert built.conditions == ()  # a family history is not the patient's diagnosis


def document(did: str, content_type: str | None, payload: bytes | None,
             **attachment: Any) -> dict[str, Any]:  # fmt: skip
    if content_type is not None:
        attachment["contentType"] = content_type
    if payload is not None:
        attachment["data"] = base64.b64encode(payload).decode()
    return {
        "resourceType": "DocumentReference", "id": did, "status": "current",
        "type": {"text": "Progress note"}, "date": "2025-11-01T10:00:00Z",
        "content": [{"attachment": attachment}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "payload", "text"),
    [
        ("text/plain", b"Denies chest pain.", "Denies chest pain."),
        ("text/plain; charset=ISO-8859-1", "Café au lait".encode("latin-1"), "Café au lait"),
        ("text/plain; charset=UTF-16", "Telehealth visit".encode("utf-16"), "Telehealth visit"),
        ("text/plain", b"A:\\n1.No fever.\\r\\n2. Rest", "A:\n1.No fever.\n2. Rest"),
        (
            "text/html; charset=utf-8",
            b"<html><style>p{}</style><p>Admitted.<br/>Home &amp; well.</p></html>",
            "Admitted.\nHome & well.",
        ),
    ],
)
def test_note_text_in_each_encoding(content_type: str, payload: bytes, text: str) -> None:
    built = record(document("d", content_type, payload))
    assert [(n.text, n.title, n.element) for n in built.notes] == [
        (text, "Progress note", "content[0].attachment")
    ]


@pytest.mark.parametrize(
    ("content_type", "payload", "attachment", "reason"),
    [
        ("application/pdf", b"%PDF-1.4", {}, "content type 'application/pdf' is not supported"),
        ("text/plain; charset=utf-8", "é".encode("latin-1"), {}, "not valid utf-8"),
        ("text/plain; charset=klingon", b"x", {}, "unknown charset 'klingon'"),
        (None, b"x", {}, "no content type"),
        ("text/plain", None, {"url": "Binary/1"}, "at 'Binary/1' could not be read: gone"),
    ],
)
def test_unreadable_notes_are_listed(
    content_type: str | None, payload: bytes | None, attachment: dict[str, Any], reason: str
) -> None:
    built = record(
        document("d", content_type, payload, **attachment),
        attachment_errors={"Binary/1": "gone"},
    )
    assert built.notes == ()
    assert [issue.path for issue in built.data_issues] == [
        "DocumentReference/d.content[0].attachment"
    ]
    assert reason in built.data_issues[0].reason


def test_fetched_attachments_and_report_text_are_read() -> None:
    binary = {"resourceType": "Binary", "contentType": "text/plain",
              "data": base64.b64encode(b"No pneumothorax.").decode()}  # fmt: skip
    report = {
        "resourceType": "DiagnosticReport", "id": "r", "status": "final",
        "code": {"text": "Chest X-ray"}, "effectiveDateTime": "2025-10-15",
        "conclusion": "No acute abnormality.",
    }  # fmt: skip
    built = record(
        document("d", "text/plain", None, url="Binary/1"),
        report,
        fetched_attachments={"Binary/1": binary},
    )
    assert [(n.source, n.element, n.text) for n in built.notes] == [
        ("DocumentReference/d", "content[0].attachment", "No pneumothorax."),
        ("DiagnosticReport/r", "conclusion", "No acute abnormality."),
    ]


def test_the_record_does_not_depend_on_resource_order() -> None:
    resources = [
        PATIENT,
        observation("a1", "4548-4", 6.1, "%", when="2024-03-02"),
        observation("a2", "4548-4", 6.4, "%", when="2024-03-02"),
        bp_panel("p1", 128, 82, "2026-01-01"),
        observation("s", "8480-6", 141, "mm[Hg]", when="2026-03-01"),
        observation("d", "8462-4", 92, "mm[Hg]", when="2026-03-01"),
        observation("bad", "39156-5", 900, "kg/m2"),
        condition("c1", ICD10_CM, "I10"),
        condition("c2", SNOMED, "714628002"),
        medication("m1", "active", "metformin 500 MG"),
        document("d1", "text/plain", b"Note one."),
        document("d2", "text/plain", b"Note two."),
    ]
    expected = build_patient_record("p1", resources, AS_OF)
    shuffled = list(resources)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        # Duplicates, as overlapping pages can give, change nothing either.
        assert build_patient_record("p1", shuffled + shuffled[:3], AS_OF) == expected


@pytest.mark.parametrize(
    "resource",
    [
        observation("o1", "4548-4", 6.1, "%", code={"coding": 5}),
        observation("o2", "4548-4", 6.1, "%", when="0001-01-01T00:00:00+14:00"),
        observation("o3", "4548-4", 6.1, "%", when="9999-12-31T23:59:59-14:00"),
        observation("o4", "4548-4", 6.1, "%", performer=5),
        {"resourceType": "FamilyMemberHistory", "id": "f1", "status": "completed", "condition": 5},
        {"resourceType": "Condition", "id": "c1", "code": {"coding": "E11"}},
    ],
    ids=["coding-a-number", "before-year-1", "after-year-9999", "performer-a-number",
         "relatives-conditions-a-number", "coding-a-string"],
)  # fmt: skip
def test_an_array_that_is_not_one_or_a_moment_python_cannot_hold_is_no_crash(
    resource: dict[str, Any],
) -> None:
    built = record(resource)

    # Nothing readable in it reaches the record (the performer is only where it was taken).
    readable = resource.get("performer") == 5
    assert len(built.measurements) == (1 if readable else 0)
    assert built.conditions == ()
    assert built.family_history == ()


def test_a_patient_whose_name_is_not_an_array_is_still_the_patient() -> None:
    built = record({**PATIENT, "name": 5})

    assert built.demographics.age_years == 55
    assert patient_name({**PATIENT, "name": 5}) == ""
