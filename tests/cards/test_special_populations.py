"""The right card, or none, for patients the adult detection and estimates do not fit.

Each chart is written as FHIR resources and read by the real adapter, so the premise (a drug
recognised, a pregnancy read, an age) is tested with the card. Each expectation names the
guideline it follows; docs/cards.md lists who each card excludes and why.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fhir_charts import blood_pressure, chart, icd10_condition, medication
from golden_cards import advise, check_golden

from fhir_adapters.codes import DrugClass
from models.hypertension import Finding, assess_hypertension
from models.hypertension_readings import pressure_summary
from models.prediction import NoEstimate
from models.registry import RiskModels, load_risk_models

LISINOPRIL = medication("lisinopril 10 MG Oral Tablet", "314076")
AMLODIPINE = medication("amlodipine 5 MG Oral Tablet")
RAISED_TWICE = (blood_pressure(150, 95, days=10), blood_pressure(150, 95, days=40))
NORMAL_TWICE = (blood_pressure(122, 76, days=10), blood_pressure(122, 76, days=40))


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def hypertension_types(models: RiskModels, *resources: dict[str, Any], **who: Any) -> list[str]:
    """The hypertension-risk card types for a chart."""
    cards = advise(models, chart(*resources, **who))
    return [item.card_type for item in cards["hypertension-risk"]]


# --- Treated: ACC/AHA 2017, goal below 130/80 on treatment -------------------------------------


def test_on_lisinopril_above_goal_the_card_names_the_drug(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(LISINOPRIL, *RAISED_TWICE)
    assert record.takes(DrugClass.ANTIHYPERTENSIVE)  # the premise: the adapter knows the drug
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "blood-pressure-above-treatment-goal"
    assert card.card.indicator.value == "warning"
    assert "lisinopril" in card.card.summary
    assert "130/80" in card.card.summary
    assert "no hypertension diagnosis" not in card.card.summary
    # Treated for it: no provisional diagnosis to add, and no "confirm before treating".
    assert "hypertension-problem-list" not in card.suggestion_kinds.values()
    assert "before treating" not in (card.card.detail or "")
    assert "ACC/AHA 2017" in (card.card.detail or "")
    check_golden("treated-above-goal", cards, "p1", update_golden)


def test_on_amlodipine_at_goal_no_card_and_no_parikh_estimate(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(AMLODIPINE, *NORMAL_TWICE)
    assessment = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert (assessment.finding, assessment.estimate) == (Finding.TREATED, None)
    # Parikh's equation counted the treated as hypertensive: it refuses them itself too.
    pressure = pressure_summary(record)
    assert pressure is not None
    refused = models.hypertension_incidence.predict(record, pressure)
    assert isinstance(refused, NoEstimate)
    assert "not on treatment" in refused.reasons[0]
    cards = advise(models, record)
    assert cards["hypertension-risk"] == []
    check_golden("treated-at-goal", cards, "p1", update_golden)


def test_on_amlodipine_without_a_reading_a_measurement_not_a_probability(
    models: RiskModels, update_golden: bool
) -> None:
    cards = advise(models, chart(AMLODIPINE, blood_pressure(150, 95, days=500)))
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "treated-blood-pressure-unmeasured"
    assert card.card.indicator.value == "info"
    assert "likely" not in card.card.summary
    assert "%" not in card.card.summary + (card.card.detail or "")
    assert set(card.suggestion_kinds.values()) == {"bp-measurement"}
    check_golden("treated-no-blood-pressure", cards, "p1", update_golden)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (128, 78, []),  # at goal: below 130 and below 80
        (130, 76, ["blood-pressure-above-treatment-goal"]),  # systolic at 130 is not below it
        (124, 80, ["blood-pressure-above-treatment-goal"]),  # diastolic at 80 is not below it
    ],
)
def test_the_treated_goal_is_below_130_80(
    models: RiskModels, systolic: float, diastolic: float, expected: list[str]
) -> None:
    readings = (blood_pressure(systolic, diastolic, 10), blood_pressure(systolic, diastolic, 50))
    assert hypertension_types(models, LISINOPRIL, *readings) == expected


def test_above_goal_on_one_day_is_information(models: RiskModels) -> None:
    cards = advise(models, chart(LISINOPRIL, blood_pressure(150, 95, days=10)))
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == (
        "blood-pressure-above-treatment-goal",
        "info",
    )


@pytest.mark.parametrize(
    ("drug", "expected"),
    [
        (
            medication("Losartan Potassium 50 MG Oral Tablet", resource_type="MedicationStatement"),
            ["blood-pressure-above-treatment-goal"],
        ),
        (
            medication("Hydrochlorothiazide 25 MG Oral Tablet"),
            ["blood-pressure-above-treatment-goal"],
        ),
        # A beta blocker alone may be for angina or arrhythmia: not taken as treatment for
        # hypertension without a diagnosis (the adapter's rule, docs/codes.md).
        (
            medication("24 HR metoprolol succinate 50 MG Extended Release Oral Tablet"),
            ["hypertension-detected"],
        ),
        # A stopped prescription is not treatment: the untreated patient's detection applies.
        (medication("lisinopril 10 MG Oral Tablet", status="stopped"), ["hypertension-detected"]),
        (medication("atorvastatin 20 MG Oral Tablet"), ["hypertension-detected"]),
    ],
)
def test_which_medication_counts_as_treatment(
    models: RiskModels, drug: dict[str, Any], expected: list[str]
) -> None:
    assert hypertension_types(models, drug, *RAISED_TWICE) == expected


# --- Children and adolescents: AAP 2017 --------------------------------------------------------


def test_an_eight_year_old_gets_the_aap_screening_card_not_an_adult_stage(
    models: RiskModels, update_golden: bool
) -> None:
    # 124/82 is "stage 1" by the adult numbers; AAP 2017 reads a child of 8 by percentiles for
    # age, sex and height. Its Table 4 screening value for girls of 8 is 107/69: at or above it,
    # a percentile-based evaluation is needed; the card names no stage.
    raised = (blood_pressure(124, 82, days=10), blood_pressure(124, 82, days=40))
    record = chart(*raised, age=8, measures=())
    assert pressure_summary(record) is not None  # the premise: the readings were read
    cards = advise(models, record)
    assert cards["diabetes-risk"] == []
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == (
        "child-blood-pressure-screening",
        "info",
    )
    assert "107/69" in card.card.summary
    assert "percentile-based evaluation needed" in card.card.summary
    assert "stage" not in card.card.summary.lower()
    assert "It is not a stage" in (card.card.detail or "")
    assert card.suggestion_kinds == {}
    check_golden("child-8-raised-readings", cards, "p1", update_golden)


@pytest.mark.parametrize(
    ("age", "sex", "systolic", "diastolic", "expected"),
    [
        # AAP 2017 Table 4: boys 1 98/52, 8 107/69, 12 113/75; girls 1 98/54, 12 114/75.
        (8, "male", 106, 68, []),
        (8, "male", 107, 60, ["child-blood-pressure-screening"]),  # systolic at the value
        (8, "female", 100, 69, ["child-blood-pressure-screening"]),  # diastolic at the value
        (12, "male", 113, 70, ["child-blood-pressure-screening"]),
        (12, "female", 113, 74, []),
        (1, "female", 98, 53, ["child-blood-pressure-screening"]),
        (1, "male", 97, 53, ["child-blood-pressure-screening"]),  # boys' diastolic value is 52
        (8, "unknown", 130, 85, []),  # the table is by sex: none for an unknown sex
    ],
)
def test_the_aap_screening_table(
    models: RiskModels, age: int, sex: str, systolic: float, diastolic: float,
    expected: list[str],
) -> None:  # fmt: skip
    reading = blood_pressure(systolic, diastolic, days=10)
    assert hypertension_types(models, reading, age=age, sex=sex, measures=()) == expected


def test_the_screening_reads_the_latest_visit(models: RiskModels) -> None:
    # Raised 200 days ago, below the value since: no card (the latest visit is screened).
    readings = (blood_pressure(100, 60, days=10), blood_pressure(120, 80, days=200))
    assert hypertension_types(models, *readings, age=8, measures=()) == []


def test_a_child_without_readings_or_measures_gets_no_card(models: RiskModels) -> None:
    assert advise(models, chart(age=8, measures=())) == {
        "diabetes-risk": [],
        "hypertension-risk": [],
    }


def test_a_fifteen_year_old_in_stage_1_gets_the_aap_card(
    models: RiskModels, update_golden: bool
) -> None:
    # Two visits in AAP 2017's stage 1 range: not yet hypertension (AAP diagnoses on 3 visits),
    # so information asking for the next visit, never the adult detection.
    raised = (blood_pressure(134, 84, days=10), blood_pressure(134, 84, days=40))
    cards = advise(models, chart(*raised, age=15))
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "adolescent-blood-pressure"
    assert card.card.indicator.value == "info"
    assert "AAP 2017 needs 3 visits" in card.card.summary
    assert "3 separate visits" in (card.card.detail or "")
    assert "ACC/AHA" not in card.card.summary
    assert card.suggestion_kinds == {}  # no adult suggestions
    assert cards["diabetes-risk"] == []  # the adult diabetes model refuses under 18
    check_golden("adolescent-15-stage-1", cards, "p1", update_golden)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "expected"),
    [
        (124, 78, []),  # AAP 2017 (13+): elevated, 120-129 and below 80: no card
        (134, 84, ["adolescent-blood-pressure"]),  # stage 1
        (146, 92, ["adolescent-blood-pressure"]),  # stage 2
    ],
)
def test_adolescent_categories(
    models: RiskModels, systolic: float, diastolic: float, expected: list[str]
) -> None:
    readings = (blood_pressure(systolic, diastolic, 10), blood_pressure(systolic, diastolic, 50))
    assert hypertension_types(models, *readings, age=15) == expected


@pytest.mark.parametrize(
    ("born", "age", "expected"),
    [
        # AAP 2017 under 13: its screening table (no stage); 13-17: its adolescent categories;
        # 18 and over: ACC/AHA 2017's adult detection.
        (date(2014, 11, 24), 11, ["child-blood-pressure-screening"]),
        (date(2013, 11, 24), 12, ["child-blood-pressure-screening"]),
        (date(2013, 11, 23), 13, ["adolescent-blood-pressure"]),
        (date(2008, 11, 24), 17, ["adolescent-blood-pressure"]),
        (date(2008, 11, 23), 18, ["hypertension-detected"]),
    ],
)
def test_age_boundaries(models: RiskModels, born: date, age: int, expected: list[str]) -> None:
    record = chart(*RAISED_TWICE, born=born)
    assert record.demographics.age_years == age  # the premise: the age on the chart's date
    cards = advise(models, record)
    assert [item.card_type for item in cards["hypertension-risk"]] == expected


def test_parikh_refuses_under_20(models: RiskModels) -> None:
    # The equation's population is 20-80 (Parikh 2008): a 19-year-old gets no 4-year risk.
    record = chart(blood_pressure(118, 76, days=10), age=19)
    assessment = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert assessment.finding is Finding.INCIDENCE
    assert isinstance(assessment.estimate, NoEstimate)
    assert "outside 20-80" in assessment.estimate.reasons[0]
    assert advise(models, record)["hypertension-risk"] == []


def test_a_treated_adolescent_is_held_to_the_aap_goal(models: RiskModels) -> None:
    cards = advise(models, chart(LISINOPRIL, *RAISED_TWICE, age=16))
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "blood-pressure-above-treatment-goal"
    assert "AAP 2017" in (card.card.detail or "")
    assert "AAP 2017" in card.card.source.label


def test_no_prevention_programme_for_an_adolescent_with_a_prediabetes_range_hba1c(
    models: RiskModels,
) -> None:
    hba1c = {
        "resourceType": "Observation",
        "id": "hba1c",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": "2026-09-01",
        "valueQuantity": {"value": 6.1, "unit": "%", "system": "http://unitsofmeasure.org",
                          "code": "%"},
    }  # fmt: skip
    (card,) = advise(models, chart(hba1c, age=15))["diabetes-risk"]
    assert card.card_type == "prediabetes-range-hba1c"
    assert set(card.suggestion_kinds.values()) == {"prediabetes-problem-list"}
    assert "Refer to" not in " ".join(s.label for s in card.card.suggestions)
    (adult,) = advise(models, chart(hba1c, age=40))["diabetes-risk"]
    assert "diabetes-prevention-referral" in adult.suggestion_kinds.values()


# --- AAP 2017: an adolescent's hypertension is diagnosed on 3 visits, an adult's on 2 ----------

TWO_RAISED_VISITS = (blood_pressure(136, 86, days=10), blood_pressure(138, 84, days=60))
THREE_RAISED_VISITS = (*TWO_RAISED_VISITS, blood_pressure(134, 82, days=120))


def test_three_raised_visits_at_15_meet_the_aap_criterion(
    models: RiskModels, update_golden: bool
) -> None:
    # AAP 2017 (section 4.3, Table 11): hypertensive-range readings on 3 separate visits.
    cards = advise(models, chart(*THREE_RAISED_VISITS, age=15))
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == ("adolescent-blood-pressure", "warning")
    assert "raised on 3 visits" in card.card.summary
    assert "AAP 2017 stage 1" in card.card.summary
    assert card.suggestion_kinds == {}
    check_golden("hypertension-adolescent-15-three-raised-visits", cards, "p1", update_golden)


def test_two_raised_visits_at_15_are_not_yet_hypertension(
    models: RiskModels, update_golden: bool
) -> None:
    cards = advise(models, chart(*TWO_RAISED_VISITS, age=15))
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == ("adolescent-blood-pressure", "info")
    assert "raised on 2 visits" in card.card.summary
    check_golden("hypertension-adolescent-15-two-raised-visits", cards, "p1", update_golden)


@pytest.mark.parametrize(
    ("born", "golden", "expected"),
    [
        # Same two raised visits: at 17 AAP 2017 needs a third (info, no suggestion); at 18
        # ACC/AHA 2017's two occasions are a detection (warning, confirm out of the office).
        (date(2008, 11, 24), "hypertension-adolescent-17-two-raised-visits",
         ("adolescent-blood-pressure", "info")),
        (date(2008, 11, 23), "hypertension-adult-18-two-raised-visits",
         ("hypertension-detected", "warning")),
    ],
)  # fmt: skip
def test_the_same_readings_at_17_and_at_18(
    models: RiskModels, update_golden: bool, born: date, golden: str, expected: tuple[str, str]
) -> None:
    cards = advise(models, chart(*TWO_RAISED_VISITS, born=born))
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == expected
    check_golden(golden, cards, "p1", update_golden)


def test_a_visit_counts_when_its_own_mean_is_raised(models: RiskModels) -> None:
    # Three visits, one of them normal: the mean is stage 1 but only 2 visits were raised.
    readings = (*TWO_RAISED_VISITS, blood_pressure(118, 72, days=120))
    record = chart(*readings, age=15)
    pressure = pressure_summary(record)
    assert pressure is not None
    assert (pressure.occasions, pressure.raised_occasions) == (3, 2)
    assert not pressure.adolescent_confirmed


def test_a_treated_child_at_the_screening_value_is_told_the_aap_goal(models: RiskModels) -> None:
    # AAP 2017: a treated child's goal is below the 90th percentile; the card names no stage.
    record = chart(LISINOPRIL, blood_pressure(118, 76, days=10), age=10, measures=())
    (card,) = advise(models, record)["hypertension-risk"]
    assert card.card_type == "child-blood-pressure-screening"
    assert "below the 90th percentile" in (card.card.detail or "")


def test_a_beta_blocker_beside_a_diagnosis_is_treatment(models: RiskModels) -> None:
    # ACC/AHA 2017: goal below 130/80 on treatment; with I10 the beta blocker counts.
    metoprolol = medication("24 HR metoprolol succinate 50 MG Extended Release Oral Tablet")
    diagnosis = icd10_condition("I10", "Essential (primary) hypertension")
    (card,) = advise(models, chart(metoprolol, diagnosis, *RAISED_TWICE))["hypertension-risk"]
    assert card.card_type == "blood-pressure-above-treatment-goal"
    assert "metoprolol" in card.card.summary
