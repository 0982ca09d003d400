"""Which medications count as antihypertensive or glucose-lowering treatment (issue 16, item 10).

Drugs with other uses count as hypertension treatment only where hypertension is evident: a
hypertension diagnosis on record, or a dedicated antihypertensive beside them (ACC/AHA 2017's
primary agents: thiazides, ACE inhibitors, ARBs, calcium channel blockers). A skin, eye or ear
form never counts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_adapters.codes import ICD10_CM, RXNORM, DrugClass
from fhir_adapters.record_builder import build_patient_record

AS_OF = date(2026, 11, 20)
TREATED, OTHER_USE, GLUCOSE_LOWERING = (
    DrugClass.ANTIHYPERTENSIVE, DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE,
    DrugClass.ANTIDIABETIC,
)  # fmt: skip


def ordered(text: str, code: str | None = None, mid: str = "m1") -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code is not None:
        concept["coding"] = [{"system": RXNORM, "code": code, "display": text}]
    return {
        "resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p1"}, "medicationCodeableConcept": concept,
    }  # fmt: skip


def hypertension(status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Condition", "id": "htn", "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": status}]},
        "code": {"coding": [{"system": ICD10_CM, "code": "I10"}]},
    }  # fmt: skip


def classes(*resources: dict[str, Any]) -> dict[str, set[DrugClass]]:
    record = build_patient_record("p1", resources, AS_OF)
    found: dict[str, set[DrugClass]] = {}
    for item in record.medications:
        found.setdefault(item.source, set()).add(item.drug_class)
    return found


@pytest.mark.parametrize(
    ("text", "alone"),
    [
        ("lisinopril 20 MG Oral Tablet", TREATED),
        ("amlodipine 5 MG / olmesartan medoxomil 20 MG Oral Tablet", TREATED),
        ("amlodipine 10 MG / atorvastatin 20 MG Oral Tablet", TREATED),
        ("labetalol hydrochloride 200 MG Oral Tablet", TREATED),  # hypertension in pregnancy
        ("propranolol hydrochloride 40 MG Oral Tablet", OTHER_USE),  # migraine, tremor, anxiety
        ("24 HR metoprolol succinate 50 MG Extended Release Oral Tablet", OTHER_USE),
        ("furosemide 40 MG Oral Tablet", OTHER_USE),  # oedema, heart failure
        ("spironolactone 50 MG Oral Tablet", OTHER_USE),  # acne, heart failure
        ("clonidine 0.1 MG/Day 7 Day Transdermal System", OTHER_USE),  # ADHD, withdrawal
        ("24 HR guanfacine 1 MG Extended Release Oral Tablet", OTHER_USE),  # ADHD
        ("minoxidil 2.5 MG Oral Tablet", OTHER_USE),  # low-dose oral minoxidil for hair loss
        ("tamsulosin 0.4 MG Oral Capsule", None),  # not a blood-pressure drug at all
        ("doxazosin 4 MG Oral Tablet", OTHER_USE),  # the prostate
        ("sacubitril 49 MG / valsartan 51 MG Oral Tablet", OTHER_USE),  # heart failure
        ("minoxidil 50 MG/ML Topical Solution", None),  # hair loss: never treatment
        ("timolol 5 MG/ML Ophthalmic Solution", None),  # glaucoma: never treatment
        ("metformin hydrochloride 500 MG Oral Tablet", GLUCOSE_LOWERING),
        ("insulin glargine 100 UNT/ML Pen Injector", GLUCOSE_LOWERING),
        ("bromocriptine 0.8 MG Oral Tablet", None),
    ],
)
def test_a_drug_by_its_text_alone_and_beside_a_hypertension_diagnosis(
    text: str, alone: DrugClass | None
) -> None:
    # The text is the fallback for an EHR's local code; no RxNorm code here.
    assert classes(ordered(text)) == ({"MedicationRequest/m1": {alone}} if alone else {})
    with_diagnosis = TREATED if alone is OTHER_USE else alone
    assert classes(ordered(text), hypertension()) == (
        {"MedicationRequest/m1": {with_diagnosis}} if with_diagnosis else {}
    )


def test_a_resolved_hypertension_does_not_make_propranolol_treatment() -> None:
    drug = ordered("propranolol hydrochloride 40 MG Oral Tablet", "856519")
    assert classes(drug, hypertension("resolved")) == {"MedicationRequest/m1": {OTHER_USE}}


def test_beside_a_dedicated_antihypertensive_a_drug_with_other_uses_is_treatment() -> None:
    # Spironolactone added to a thiazide and an ACE inhibitor: resistant-hypertension treatment.
    found = classes(
        ordered("spironolactone 25 MG Oral Tablet", mid="m1"),
        ordered("hydrochlorothiazide 25 MG Oral Tablet", "310798", mid="m2"),
    )
    assert found == {"MedicationRequest/m1": {TREATED}, "MedicationRequest/m2": {TREATED}}


def test_the_rxnorm_code_wins_over_a_misleading_text() -> None:
    # 314076 is lisinopril 10 MG Oral Tablet in the eCQM value sets, whatever the EHR wrote.
    assert classes(ordered("BP tablet", "314076")) == {"MedicationRequest/m1": {TREATED}}


def test_a_combination_names_its_ingredients_of_the_class() -> None:
    record = build_patient_record(
        "p1", [ordered("amlodipine 5 MG / hydrochlorothiazide 25 MG / olmesartan 40 MG Tab")],
        AS_OF,
    )  # fmt: skip
    assert [m.ingredient for m in record.medications] == [
        "amlodipine / hydrochlorothiazide / olmesartan"
    ]


def test_propranolol_in_synthea_counts_only_with_its_hypertension() -> None:
    # Synthea's migraine patient takes propranolol and has essential hypertension on record.
    with_diagnosis = classes(
        ordered("propranolol hydrochloride 40 MG Oral Tablet", "856519"),
        {**hypertension(), "code": {"coding": [{"system": "http://snomed.info/sct",
                                                "code": "59621000"}]}},
    )  # fmt: skip
    assert with_diagnosis == {"MedicationRequest/m1": {TREATED}}
    record = build_patient_record(
        "p1", [ordered("propranolol hydrochloride 40 MG Oral Tablet", "856519")], AS_OF
    )
    assert not record.takes(DrugClass.ANTIHYPERTENSIVE)
