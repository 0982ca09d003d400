"""The risk cards for distinct patient situations, checked against reviewed golden files.

Every card also passes the CDS Hooks validator (`card_rules`), and each situation's premise is
asserted first (a "high risk" patient is high risk by the shipped model), so a golden file can
only change when the wording or the decision does. Rewrite them with `--update-golden`, then
read the diff as a clinician would.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from golden_cards import HOOK_INSTANCE, POLICY, advise, check_golden
from model_records import AS_OF, condition, measurement, reading, record
from synthetic_patients import PATIENT_NAMES

from cards.diabetes_cards import diabetes_cards
from cards.policy import NO_HISTORY, Band, FeedbackHistory
from fhir_adapters.codes import ConditionKind, Measure, SmokingStatus
from fhir_adapters.patient_record import AdministrativeSex
from fhir_adapters.record_builder import build_patient_record
from models.hypertension import Finding, assess_hypertension
from models.prediction import RiskEstimate
from models.registry import RiskModels, load_risk_models


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


HIGH_RISK = record(
    age=63,
    sex=AdministrativeSex.MALE,
    measurements=(
        measurement(Measure.BMI, 36.4, days=12),
        measurement(Measure.WAIST_CIRCUMFERENCE, 121.0, days=12),
        measurement(Measure.HDL_CHOLESTEROL, 34.0, days=300),
        measurement(Measure.TOTAL_CHOLESTEROL, 214.0, days=300),
    ),
    smoking=SmokingStatus.CURRENT,
)
KNOWN_PREDIABETES = replace(HIGH_RISK, conditions=(condition(ConditionKind.PREDIABETES),))
LOW_RISK = record(
    age=26,
    measurements=(measurement(Measure.BMI, 21.3), measurement(Measure.HDL_CHOLESTEROL, 71.0)),
    blood_pressure=(reading(112, 70, days=30), reading(108, 68, days=200)),
)


def test_high_risk(models: RiskModels, update_golden: bool) -> None:
    estimate = models.dysglycemia.predict(HIGH_RISK)
    assert isinstance(estimate, RiskEstimate)
    assert POLICY.diabetes.band(estimate.probability) is Band.HIGH
    cards = advise(models, HIGH_RISK)
    assert [c.card_type for c in cards["diabetes-risk"]] == ["diabetes-risk"]
    check_golden("high-risk", cards, "p1", update_golden)


def test_low_risk(models: RiskModels, update_golden: bool) -> None:
    estimate = models.dysglycemia.predict(LOW_RISK)
    assert isinstance(estimate, RiskEstimate)
    assert POLICY.diabetes.band(estimate.probability) is Band.LOW
    cards = advise(models, LOW_RISK)
    assert cards["diabetes-risk"] == []
    check_golden("low-risk", cards, "p1", update_golden)


def test_diagnosed(models: RiskModels, update_golden: bool) -> None:
    chart = record(
        conditions=(condition(ConditionKind.DIABETES), condition(ConditionKind.HYPERTENSION))
    )
    assert advise(models, chart) == {"diabetes-risk": [], "hypertension-risk": []}
    check_golden("diagnosed", advise(models, chart), "p1", update_golden)


def test_undiagnosed_by_hba1c(models: RiskModels, update_golden: bool) -> None:
    chart = record(measurements=(*record().measurements, measurement(Measure.HBA1C, 6.9, days=40)))
    cards = advise(models, chart)
    # One HbA1c of 6.9% is not a diagnosis (ADA 2025 s.2: two abnormal results; issue 16 item 4).
    assert [c.card_type for c in cards["diabetes-risk"]] == ["diabetes-range-unconfirmed"]
    check_golden("undiagnosed-by-hba1c", cards, "p1", update_golden)


def test_undiagnosed_by_fasting_glucose(models: RiskModels, update_golden: bool) -> None:
    glucose = (
        measurement(Measure.GLUCOSE_FASTING, 131.0, days=15),
        measurement(Measure.GLUCOSE_FASTING, 128.0, days=75),
    )
    chart = record(measurements=(*record().measurements, *glucose))
    cards = advise(models, chart)
    assert [c.card_type for c in cards["diabetes-risk"]] == ["diabetes-possible-undiagnosed"]
    check_golden("undiagnosed-by-fasting-glucose", cards, "p1", update_golden)


def test_hba1c_in_the_prediabetes_range(models: RiskModels, update_golden: bool) -> None:
    chart = record(measurements=(*record().measurements, measurement(Measure.HBA1C, 6.1, days=90)))
    cards = advise(models, chart)
    assert [c.card_type for c in cards["diabetes-risk"]] == ["prediabetes-range-hba1c"]
    check_golden("prediabetes-range-hba1c", cards, "p1", update_golden)


def test_known_prediabetes_without_a_yearly_hba1c(models: RiskModels, update_golden: bool) -> None:
    older = measurement(Measure.HBA1C, 6.0, days=500)
    chart = replace(KNOWN_PREDIABETES, measurements=(*HIGH_RISK.measurements, older))
    cards = advise(models, chart)
    assert [c.card_type for c in cards["diabetes-risk"]] == ["prediabetes-monitoring"]
    check_golden("prediabetes-no-yearly-hba1c", cards, "p1", update_golden)
    newer = measurement(Measure.HBA1C, 6.0, days=200)
    recent = replace(KNOWN_PREDIABETES, measurements=(*HIGH_RISK.measurements, newer))
    assert advise(models, recent)["diabetes-risk"] == []


def test_a_recent_normal_hba1c_answers_the_question(models: RiskModels) -> None:
    chart = record(measurements=(*record().measurements, measurement(Measure.HBA1C, 5.3, days=400)))
    assert advise(models, chart)["diabetes-risk"] == []


def test_missing_data(models: RiskModels, update_golden: bool) -> None:
    chart = record(measurements=(), blood_pressure=())
    cards = advise(models, chart)
    assert [c.card.indicator.value for c in cards["diabetes-risk"]] == ["info"]
    check_golden("missing-data", cards, "p1", update_golden)


def test_no_blood_pressure_in_twelve_months(models: RiskModels, update_golden: bool) -> None:
    chart = replace(HIGH_RISK, blood_pressure=(reading(138, 86, days=420),))
    assessment = assess_hypertension(
        chart, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert assessment.finding is Finding.UNMEASURED
    cards = advise(models, chart)
    assert [c.card_type for c in cards["hypertension-risk"]] == ["blood-pressure-unmeasured"]
    check_golden("no-blood-pressure-in-12-months", cards, "p1", update_golden)


def test_raised_readings_without_diagnosis(models: RiskModels, update_golden: bool) -> None:
    chart = record(
        blood_pressure=(reading(148, 94, days=8), reading(144, 90, days=50), reading(142, 88, 50))
    )
    cards = advise(models, chart)
    assert [c.card_type for c in cards["hypertension-risk"]] == ["hypertension-detected"]
    check_golden("raised-readings-without-diagnosis", cards, "p1", update_golden)


def test_raised_readings_on_one_day(models: RiskModels, update_golden: bool) -> None:
    chart = record(blood_pressure=(reading(136, 84, days=8),))
    cards = advise(models, chart)
    assert [c.card_type for c in cards["hypertension-risk"]] == ["blood-pressure-repeat"]
    check_golden("raised-readings-on-one-day", cards, "p1", update_golden)


def test_normal_pressure_with_raised_four_year_risk(
    models: RiskModels, update_golden: bool
) -> None:
    chart = record(
        age=58,
        blood_pressure=(reading(126, 79, days=10), reading(128, 78, days=100)),
        smoking=SmokingStatus.CURRENT,
        parents_with_hypertension=2,
    )
    assessment = assess_hypertension(
        chart, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert assessment.finding is Finding.INCIDENCE
    assert isinstance(assessment.estimate, RiskEstimate)
    assert assessment.estimate.probability >= POLICY.hypertension_incidence.high_from
    cards = advise(models, chart)
    assert [c.card_type for c in cards["hypertension-risk"]] == ["hypertension-incidence"]
    check_golden("normal-pressure-raised-4-year-risk", cards, "p1", update_golden)


@pytest.mark.parametrize("name", PATIENT_NAMES)
def test_synthetic_patients(
    models: RiskModels,
    synthetic_patients: dict[str, dict[str, Any]],
    name: str,
    update_golden: bool,
) -> None:
    resources = [
        {"id": f"r{n}", **entry["resource"]}
        for n, entry in enumerate(synthetic_patients[name]["entry"])
    ]
    patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
    chart = build_patient_record(patient_id, resources, AS_OF)
    assert chart.demographics.age_years is not None  # the premise: the chart was read
    check_golden(name, advise(models, chart), patient_id, update_golden)


def test_an_overridden_card_stays_away_until_the_band_rises(models: RiskModels) -> None:
    overridden_high = FeedbackHistory(overridden={"diabetes-risk": Band.HIGH})
    assert advise(models, HIGH_RISK, overridden_high)["diabetes-risk"] == []
    overridden_moderate = FeedbackHistory(overridden={"diabetes-risk": Band.MODERATE})
    assert [
        c.card_type for c in advise(models, HIGH_RISK, overridden_moderate)["diabetes-risk"]
    ] == ["diabetes-risk"]


def test_an_accepted_order_is_not_suggested_again(models: RiskModels) -> None:
    first = advise(models, HIGH_RISK)["diabetes-risk"][0]
    assert set(first.suggestion_kinds.values()) == {"hba1c-order", "diabetes-prevention-referral"}
    later = advise(models, HIGH_RISK, FeedbackHistory(accepted=frozenset({"hba1c-order"})))
    card = later["diabetes-risk"][0]
    assert set(card.suggestion_kinds.values()) == {"diabetes-prevention-referral"}
    assert "HbA1c screening suggested" not in card.card.summary


def test_ids_are_stable_for_a_call_and_new_for_the_next(models: RiskModels) -> None:
    chart = HIGH_RISK
    again = advise(models, chart)["diabetes-risk"][0]
    assert advise(models, chart)["diabetes-risk"][0].card.uuid == again.card.uuid
    other = diabetes_cards(
        chart,
        models.dysglycemia.predict(chart),
        models.undiagnosed_diabetes.predict(chart),
        POLICY,
        NO_HISTORY,
        "another-hook-instance",
    )[0]
    assert other.card.uuid != again.card.uuid
    assert set(other.suggestion_kinds).isdisjoint(again.suggestion_kinds)


def test_the_site_decides_which_bands_get_a_card(models: RiskModels) -> None:
    silent = {Band.LOW: None, Band.MODERATE: None, Band.HIGH: None}
    quiet = replace(POLICY, diabetes=replace(POLICY.diabetes, indicators=silent))
    chart = HIGH_RISK
    assert (
        diabetes_cards(
            chart,
            models.dysglycemia.predict(chart),
            models.undiagnosed_diabetes.predict(chart),
            quiet,
            NO_HISTORY,
            HOOK_INSTANCE,
        )
        == ()
    )


def test_a_bmi_too_old_for_the_model_is_not_called_not_recorded(models: RiskModels) -> None:
    """Issue 22, item 7: a BMI 4 years old is in the chart, but the model reads body measures
    back 3 years: no estimate, and the card says the BMI is too old, with its date, never that
    none was recorded."""
    days = 4 * 365
    chart = record(measurements=(measurement(Measure.BMI, 31.0, days=days),), blood_pressure=())
    (card,) = advise(models, chart)["diabetes-risk"]
    assert card.card_type == "diabetes-risk-not-estimated"
    assert card.card.summary == "Diabetes risk not estimated: no usable BMI (or weight and height)"
    taken = (AS_OF - timedelta(days=days)).isoformat()
    too_old = (
        f"- BMI (or weight and height): last recorded {taken}, older than the model's 3-year window"
    )
    assert too_old in (card.card.detail or "")
    # The blood-pressure estimate needs the BMI too, and says the same of it.
    (unmeasured,) = advise(models, chart)["hypertension-risk"]
    assert unmeasured.card_type == "blood-pressure-unmeasured"
    detail = unmeasured.card.detail or ""
    assert "cannot be estimated without a usable value for: BMI" in detail
    assert too_old in detail
