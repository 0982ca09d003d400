"""The shipped models as the service runs them: estimates, explanations, refusals, routing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import pairwise

import numpy as np
import pytest
from model_records import AS_OF, condition, measurement, reading, record, with_bmi
from synthetic_patients import CAREBUNDLE_PROFILES, carebundle_patient

from fhir_adapters.codes import ConditionKind, DrugClass, Measure
from fhir_adapters.patient_record import BloodPressureReading, PatientRecord
from fhir_adapters.record_builder import build_patient_record
from models.hypertension import Finding, assess_hypertension
from models.prediction import LOG_CUMULATIVE_HAZARD, NoEstimate, RiskEstimate
from models.registry import RiskModels, load_risk_models
from models.risk_models import LearnedRiskModel


@pytest.fixture(scope="module")
def shipped() -> RiskModels:
    return load_risk_models()


def _diabetes_models(models: RiskModels) -> list[LearnedRiskModel]:
    return [models.dysglycemia, models.undiagnosed_diabetes]


def _estimate(model: LearnedRiskModel, chart: PatientRecord) -> RiskEstimate:
    result = model.predict(chart)
    assert isinstance(result, RiskEstimate), result
    return result


def test_an_estimate_is_explained_by_the_charts_own_values(shipped: RiskModels) -> None:
    chart = record()
    for model in _diabetes_models(shipped):
        estimate = _estimate(model, chart)
        assert 0 < estimate.probability < 1
        assert estimate.additivity_error < 1e-6
        assert estimate.probability == pytest.approx(1 / (1 + np.exp(-estimate.margin)))
        bmi = next(item for item in estimate.contributions if item.feature == "bmi")
        assert (bmi.value, bmi.unit, bmi.sources) == (31.0, "kg/m2", ("Observation/bmi",))
        systolic = next(item for item in estimate.contributions if item.feature == "systolic")
        assert systolic.value == 126.0
        assert systolic.note.startswith("mean of 2")
        assert estimate.missing == ()
        assert estimate.artifact_sha256 == model.artifact.content_sha256


def test_prediction_is_deterministic(shipped: RiskModels) -> None:
    chart = record()
    assert shipped.dysglycemia.predict(chart) == shipped.dysglycemia.predict(chart)


def test_higher_bmi_never_lowers_the_shipped_diabetes_risk(shipped: RiskModels) -> None:
    for model in _diabetes_models(shipped):
        for base in (record(), record(age=30), record(age=70, smoking=None)):
            risks = [_estimate(model, with_bmi(base, bmi)).probability for bmi in range(17, 60)]
            assert all(later >= earlier for earlier, later in pairwise(risks))
            assert risks[-1] > risks[0]


def test_missing_inputs_are_listed_and_the_estimate_still_adds_up(shipped: RiskModels) -> None:
    sparse = record(measurements=(measurement(Measure.BMI, 34.0),), blood_pressure=(), smoking=None)
    estimate = _estimate(shipped.undiagnosed_diabetes, sparse)
    assert set(estimate.missing) == {
        "waist",
        "systolic",
        "diastolic",
        "hdl",
        "total_cholesterol",
        "current_smoker",
    }
    assert estimate.additivity_error < 1e-6


@pytest.mark.parametrize(
    ("chart", "reason"),
    [
        (record(conditions=(condition(ConditionKind.DIABETES),)), "already diagnosed"),
        (record(medications=(DrugClass.ANTIDIABETIC,)), "already diagnosed or treated"),
        (record(age=15), "adults"),
        (record(measurements=()), "needs BMI"),
        (record(age=None), "needs Age"),
    ],
)
def test_no_number_where_it_would_not_be_honest(
    shipped: RiskModels, chart: PatientRecord, reason: str
) -> None:
    result = shipped.dysglycemia.predict(chart)
    assert isinstance(result, NoEstimate)
    assert any(reason in text for text in result.reasons)


def _assess(models: RiskModels, chart: PatientRecord):  # type: ignore[no-untyped-def]
    return assess_hypertension(
        chart, models.unmeasured_blood_pressure, models.hypertension_incidence
    )


def test_a_diagnosed_patient_gets_nothing_more(shipped: RiskModels) -> None:
    chart = record(conditions=(condition(ConditionKind.HYPERTENSION),))
    assert _assess(shipped, chart).finding is Finding.DIAGNOSED


def test_raised_readings_without_a_diagnosis_are_a_detection(shipped: RiskModels) -> None:
    two_days = record(blood_pressure=(reading(146, 92, days=5), reading(142, 88, days=60)))
    result = _assess(shipped, two_days)
    assert (result.finding, result.estimate) == (Finding.DETECTED, None)
    assert result.pressure is not None
    assert (result.pressure.stage, result.pressure.confirmed) == (2, True)
    one_day = record(blood_pressure=(reading(134, 82, days=5),))
    single = _assess(shipped, one_day)
    assert single.pressure is not None
    assert (single.finding, single.pressure.stage, single.pressure.confirmed) == (
        Finding.DETECTED,
        1,
        False,
    )


@pytest.mark.parametrize(
    "readings",
    [(), (reading(150, 95, days=5), reading(148, 94, days=60)), (reading(122, 76, days=5),)],
)
def test_a_treated_patient_gets_the_goal_not_a_detection_or_an_estimate(
    shipped: RiskModels, readings: tuple[BloodPressureReading, ...]
) -> None:
    # ACC/AHA 2017: on treatment the question is the goal (below 130/80); Parikh's equation
    # counted the treated as hypertensive, and the detection would tell of "no diagnosis".
    chart = record(blood_pressure=readings, medications=(DrugClass.ANTIHYPERTENSIVE,))
    result = _assess(shipped, chart)
    assert (result.finding, result.estimate) == (Finding.TREATED, None)
    assert (result.pressure is None) is (not readings)


@pytest.mark.parametrize(
    ("age", "finding"),
    [(8, Finding.CHILD), (12, Finding.CHILD), (13, Finding.ADOLESCENT), (17, Finding.ADOLESCENT),
     (18, Finding.DETECTED)],
)  # fmt: skip
def test_under_18_the_adult_answers_do_not_apply(
    shipped: RiskModels, age: int, finding: Finding
) -> None:
    # AAP 2017: percentiles under 13 (not computed here), its adolescent categories 13-17.
    chart = record(age=age, blood_pressure=(reading(134, 84, days=5), reading(132, 82, days=60)))
    result = _assess(shipped, chart)
    assert result.finding is finding
    assert result.estimate is None


def test_no_recent_reading_gives_the_probability_if_measured(shipped: RiskModels) -> None:
    chart = record(blood_pressure=(reading(150, 95, days=500),))
    result = _assess(shipped, chart)
    assert result.finding is Finding.UNMEASURED
    assert isinstance(result.estimate, RiskEstimate)
    assert result.estimate.model == "hypertension-unmeasured"
    assert result.estimate.additivity_error < 1e-6


def test_recent_normal_pressure_gives_the_parikh_risk(shipped: RiskModels) -> None:
    chart = record(
        blood_pressure=(reading(118, 76, days=5), reading(122, 74, days=40)),
        parents_with_hypertension=2,
    )
    result = _assess(shipped, chart)
    assert result.finding is Finding.INCIDENCE
    estimate = result.estimate
    assert isinstance(estimate, RiskEstimate)
    assert estimate.margin_scale == LOG_CUMULATIVE_HAZARD
    assert [years for years, _ in estimate.horizons] == [1, 2, 4]
    assert [risk for _, risk in estimate.horizons] == sorted(r for _, r in estimate.horizons)
    assert estimate.additivity_error < 1e-9
    parents = next(c for c in estimate.contributions if c.feature == "parents_with_hypertension")
    assert parents.value == 2.0
    assert parents.shapley > 0
    assert "parents_with_hypertension" not in estimate.missing


def test_parikh_lists_unrecorded_family_history_and_refuses_diabetes(shipped: RiskModels) -> None:
    normal = (reading(118, 76, days=5),)
    estimate = _assess(shipped, record(blood_pressure=normal)).estimate
    assert isinstance(estimate, RiskEstimate)
    assert "parents_with_hypertension" in estimate.missing
    diabetic = record(blood_pressure=normal, medications=(DrugClass.ANTIDIABETIC,))
    refused = _assess(shipped, diabetic).estimate
    assert isinstance(refused, NoEstimate)
    assert "without diabetes" in refused.reasons[0]


@pytest.mark.parametrize("profile", CAREBUNDLE_PROFILES)
def test_carebundle_patients_through_the_adapter(shipped: RiskModels, profile: str) -> None:
    # A transaction's resources, with the ids a server would give them.
    resources = [
        {**entry["resource"], "id": f"r{n}"}
        for n, entry in enumerate(carebundle_patient(profile)["entry"])
    ]
    chart = build_patient_record("r0", resources, AS_OF)
    for model in _diabetes_models(shipped):
        result = model.predict(chart)
        if profile == "type2_diabetes":
            assert isinstance(result, NoEstimate)
        else:
            assert isinstance(result, RiskEstimate), result
            assert result.additivity_error < 1e-6
            bmi = chart.latest(Measure.BMI)
            assert bmi is not None
            assert next(c for c in result.contributions if c.feature == "bmi").value == bmi.value
    assessment = _assess(shipped, chart)
    if profile == "hypertension":
        # Diagnosed and on lisinopril: held to the treatment goal (ACC/AHA 2017), not screened.
        assert assessment.finding is Finding.TREATED


def test_stale_values_are_not_used(shipped: RiskModels) -> None:
    later = replace(record(), as_of=date(AS_OF.year + 4, 1, 1))
    result = shipped.dysglycemia.predict(later)
    assert isinstance(result, NoEstimate)
    assert result.reasons == ("needs BMI",)
    assert {"bmi", "hdl", "total_cholesterol", "waist", "systolic"} <= set(result.missing)
