"""Cards when the medication lists could not be read: treatment unknown is not "untreated".

When the EHR leaves out the `medications` (MedicationRequest) or `medicationStatements`
(MedicationStatement) key and the service cannot read it either, a drug's absence from the
record says nothing. A card may not claim that none is taken ("no antihypertensive on record",
"untreated", "no diabetes ... treatment"); a card whose population excludes the treated (the
Framingham incidence card, the diabetes risk estimate) is not shown; a card resting on facts
(the readings, the results) is shown, saying that treatment could not be checked. Charts go
through the real record builder, from gathered data as a hook call gathers it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from fhir_charts import (
    ADULT_MEASURES,
    PATIENT_ID,
    blood_pressure,
    icd10_condition,
    medication,
    pregnancy,
)
from fhir_charts import lab_result as result
from golden_cards import HOOK_INSTANCE, advise
from home_bp_charts import home_week
from model_records import AS_OF, reading, record

from cards.card_parts import IssuedCard
from cards.home_blood_pressure import home_blood_pressure_cards
from cards.policy import NO_HISTORY
from cds_service.services.definition import RISK_PREFETCH
from fhir_adapters.codes import SmokingStatus
from fhir_adapters.gathering import FETCH_FAILED, GatheredData
from fhir_adapters.patient_record import PatientRecord
from fhir_adapters.record_builder import record_from_gathered
from models.registry import RiskModels, load_risk_models

ESSENTIAL_HYPERTENSION = icd10_condition("I10", "Essential (primary) hypertension")
RAISED_TWICE = (blood_pressure(142, 93, days=10), blood_pressure(142, 93, days=40))
LISINOPRIL = medication("lisinopril 10 MG Oral Tablet", "314076")
LISINOPRIL_TAKEN = medication(
    "lisinopril 10 MG Oral Tablet", "314076", resource_type="MedicationStatement"
)
BOTH_LISTS = ("medications", "medicationStatements")
# The key each resource type is gathered under (cds_service/services/definition.py).
KEYS = {
    "Patient": "patient",
    "Observation": "observations",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "MedicationStatement": "medicationStatements",
}


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def gathered_chart(
    *resources: dict[str, Any],
    unread: tuple[str, ...] = BOTH_LISTS,
    partly_read: tuple[str, ...] = (),
    age: int = 52,
) -> PatientRecord:
    """The record of a hook call whose keys `unread` could not be read (and `partly_read` only
    in part), built from the gathered data as the service builds it."""
    patient = {"resourceType": "Patient", "id": PATIENT_ID, "gender": "female",
               "birthDate": date(AS_OF.year - age, 1, 1).isoformat()}  # fmt: skip
    by_key: dict[str, tuple[dict[str, Any], ...]] = {t.key: () for t in RISK_PREFETCH}
    for resource in (patient, *ADULT_MEASURES, *resources):
        key = KEYS[resource["resourceType"]]
        assert key not in unread, "a key that could not be read holds nothing"
        by_key[key] += (resource,)
    gathered = GatheredData(
        {key: found for key, found in by_key.items() if key not in unread},
        unavailable=dict.fromkeys(unread, FETCH_FAILED),
        incomplete=dict.fromkeys(partly_read, "a later page could not be read"),
        subjects={template.key: template.subject for template in RISK_PREFETCH},
    )
    return record_from_gathered(PATIENT_ID, gathered, AS_OF)


def hypertension_card(models: RiskModels, record: PatientRecord) -> IssuedCard:
    (card,) = advise(models, record)["hypertension-risk"]
    return card


def text_of(card: IssuedCard) -> str:
    return f"{card.card.summary}\n{card.card.detail or ''}".lower()


UNTREATED_CLAIMS = ("no antihypertensive", "untreated", "no hypertension diagnosis or treatment")


def test_diagnosed_above_goal_with_medications_unread_claims_no_absence_of_treatment(
    models: RiskModels,
) -> None:
    # The sandbox's wrong card: the orders could not be read, and it said "no antihypertensive
    # on record" of a patient on lisinopril. ACC/AHA 2017's goal (below 130/80 in diagnosed
    # hypertension, treated or not) still holds, so the card stays, and so does its indicator.
    card = hypertension_card(models, gathered_chart(ESSENTIAL_HYPERTENSION, *RAISED_TWICE))
    assert card.card_type == "diagnosed-blood-pressure-above-goal"
    assert card.card.indicator.value == "warning"
    assert not [claim for claim in UNTREATED_CLAIMS if claim in text_of(card)]
    assert "142/93" in card.card.summary
    assert "treatment unknown" in card.card.summary
    assert "130/80 goal" in card.card.summary
    assert "Treatment could not be checked" in (card.card.detail or "")
    assert "Medication orders could not be read" in (card.card.detail or "")


def test_diagnosed_above_goal_with_both_lists_read_and_empty_is_the_untreated_card(
    models: RiskModels,
) -> None:
    card = hypertension_card(
        models, gathered_chart(ESSENTIAL_HYPERTENSION, *RAISED_TWICE, unread=())
    )
    assert card.card_type == "diagnosed-blood-pressure-above-goal"
    assert card.card.summary == (
        "BP 142/93 mmHg in diagnosed hypertension, no antihypertensive on record: above the "
        "130/80 goal"
    )
    assert "No antihypertensive is on record" in (card.card.detail or "")


def test_one_list_read_with_lisinopril_is_the_treated_card(models: RiskModels) -> None:
    record = gathered_chart(
        ESSENTIAL_HYPERTENSION, LISINOPRIL_TAKEN, *RAISED_TWICE, unread=("medications",)
    )
    card = hypertension_card(models, record)
    assert card.card_type == "blood-pressure-above-treatment-goal"
    assert "lisinopril" in card.card.summary


def test_diagnosed_without_a_reading_and_medications_unread(models: RiskModels) -> None:
    card = hypertension_card(models, gathered_chart(ESSENTIAL_HYPERTENSION))
    assert card.card_type == "diagnosed-blood-pressure-unmeasured"
    assert not [claim for claim in UNTREATED_CLAIMS if claim in text_of(card)]
    assert "Treatment could not be checked" in (card.card.detail or "")


def test_the_incidence_card_is_not_shown_when_treatment_is_unknown(models: RiskModels) -> None:
    # Parikh 2008's equation is for people not on treatment: with the lists unread the patient
    # may be outside its population, and a risk years away is not worth a guess.
    chart = record(
        age=58,
        blood_pressure=(reading(126, 79, days=10), reading(128, 78, days=100)),
        smoking=SmokingStatus.CURRENT,
        parents_with_hypertension=2,
    )
    read = advise(models, chart)["hypertension-risk"]
    assert [card.card_type for card in read] == ["hypertension-incidence"]
    unread = replace(chart, unread_medication_lists=("MedicationRequest",))
    assert advise(models, unread)["hypertension-risk"] == []


def test_raised_readings_without_diagnosis_say_treatment_was_not_checked(
    models: RiskModels,
) -> None:
    card = hypertension_card(models, gathered_chart(*RAISED_TWICE))
    assert card.card_type == "hypertension-detected"
    assert "Treatment could not be checked" in (card.card.detail or "")


def test_an_adolescent_card_does_not_say_untreated(models: RiskModels) -> None:
    raised = (*RAISED_TWICE, blood_pressure(140, 90, days=120))
    card = hypertension_card(models, gathered_chart(*raised, age=15))
    assert card.card_type == "adolescent-blood-pressure"
    assert not [claim for claim in UNTREATED_CLAIMS if claim in text_of(card)]
    assert "treatment could not be checked" in text_of(card)


def test_the_diabetes_risk_estimate_is_not_shown_when_treatment_is_unknown(
    models: RiskModels,
) -> None:
    # ADA 2025 section 2 and USPSTF 2021 screen people without known diabetes, and the NHANES
    # model left out those taking insulin or diabetes pills: on metformin or insulin the
    # patient is not for this card, and with the lists unread that cannot be ruled out.
    read = advise(models, gathered_chart(unread=(), age=63))["diabetes-risk"]
    assert [card.card_type for card in read] == ["diabetes-risk"]
    for unread in (BOTH_LISTS, ("medications",), ("medicationStatements",)):
        assert advise(models, gathered_chart(unread=unread, age=63))["diabetes-risk"] == []


def test_a_diabetes_range_result_is_shown_without_claiming_no_treatment(
    models: RiskModels,
) -> None:
    (card,) = advise(models, gathered_chart(result("4548-4", 6.7, "%", days=20)))["diabetes-risk"]
    detail = card.card.detail or ""
    assert card.card_type == "diabetes-range-unconfirmed"
    assert "diagnosis or treatment" not in detail
    assert "treatment could not be checked" in detail


def test_a_home_series_in_diagnosed_hypertension_does_not_say_no_antihypertensive() -> None:
    office_at_goal = (blood_pressure(124, 76, days=20), blood_pressure(124, 76, days=50))
    record = gathered_chart(ESSENTIAL_HYPERTENSION, *office_at_goal, *home_week(134, 84))
    (card,) = home_blood_pressure_cards(record, NO_HISTORY, HOOK_INSTANCE)
    assert card.card_type == "home-bp-masked-uncontrolled"
    assert card.card.indicator.value == "warning"
    assert not [claim for claim in UNTREATED_CLAIMS if claim in text_of(card)]
    assert "Treatment could not be checked" in (card.card.detail or "")


def test_no_reading_in_a_year_says_treatment_was_not_checked(models: RiskModels) -> None:
    # A measurement is due treated or not: the card stays, and says what it could not check.
    card = hypertension_card(models, gathered_chart(blood_pressure(150, 95, days=500), age=63))
    assert card.card_type == "blood-pressure-unmeasured"
    assert "Treatment could not be checked" in (card.card.detail or "")


def test_raised_pressure_in_pregnancy_says_chronic_hypertension_was_not_ruled_out(
    models: RiskModels,
) -> None:
    # ACOG's reading of the pressure is the same; what an unread list hides is whether an
    # antihypertensive (chronic hypertension) predates the pregnancy.
    raised = (blood_pressure(142, 92, days=3), blood_pressure(140, 90, days=10))
    card = hypertension_card(models, gathered_chart(pregnancy(), *raised))
    assert (card.card_type, card.card.indicator.value) == (
        "pregnancy-blood-pressure-raised",
        "warning",
    )
    assert "Treatment could not be checked" in (card.card.detail or "")
    assert "superimposed preeclampsia" in (card.card.detail or "")


def test_a_prediabetes_range_result_is_not_carded_when_treatment_is_unknown(
    models: RiskModels,
) -> None:
    # On metformin or insulin an HbA1c of 6.2% may be treated diabetes, not prediabetes (ADA
    # 2025 defines prediabetes in people without diabetes): no "add prediabetes" card then.
    hba1c = result("4548-4", 6.2, "%", days=20)
    read = advise(models, gathered_chart(hba1c, unread=()))["diabetes-risk"]
    assert [card.card_type for card in read] == ["prediabetes-range-hba1c"]
    assert advise(models, gathered_chart(hba1c))["diabetes-risk"] == []
