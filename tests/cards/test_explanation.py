"""A risk card's explanation (issue 16, item 9): what the model filled in is shown, and adds up.

A missing input is not left out by a model: it is filled in (the training average for the
logistic models, the branch learned for missing values for trees, "none" for Parikh's
smoking and parental history) and moves the estimate. The card shows each filled-in input
apart from the recorded ones, with what it was given and its push, each push said against the
reference it starts from (the average adult of the model's data); the reference and the shown
pushes add up to the estimate. Charts are FHIR resources read by the real adapter; the models
are the shipped ones, and every number checked is computed from them here.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fhir_charts import ADULT_MEASURES, blood_pressure, chart, lab_result
from golden_cards import advise
from model_records import AS_OF

from cards.explanation import explained, filled_in_text, percent, push_words
from models.prediction import RiskEstimate
from models.registry import RiskModels, load_risk_models

FALSE_SENTENCE = "rests on the inputs that were recorded"


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def _detail(cards: dict[str, list], service: str, card_type: str) -> str:  # type: ignore[type-arg]
    (card,) = [item for item in cards[service] if item.card_type == card_type]
    return card.card.detail or ""


def _check_explanation(estimate: RiskEstimate, detail: str) -> None:
    parts = explained(estimate)
    # The reference and every shown contribution add up to the model's own margin.
    assert parts.shown_margin == pytest.approx(estimate.margin, abs=1e-9)
    # In points, they add up to the estimate's difference from the reference.
    pushes = [c.shapley for c in (*parts.recorded, *parts.filled)] + [parts.other_recorded]
    assert sum(parts.points(push) for push in pushes) == pytest.approx(
        100 * (estimate.probability - estimate.baseline_probability), abs=1e-9
    )
    # The reference is stated once, as the estimate for the average adult of the model's data.
    baseline = percent(estimate.baseline_probability)
    heading = f"Compared with the average adult in the model's data ({baseline})"
    assert detail.count(heading) == 1
    # Each filled-in input is shown apart, with what it was given and its push.
    assert "**Not recorded, filled in by the model:**" in detail
    for item in parts.filled:
        line = f"- {filled_in_text(item)}: {push_words(parts.points(item.shapley), item.shapley)}"
        assert line in detail
    assert FALSE_SENTENCE not in detail


def test_no_blood_pressure_card_shows_the_filled_in_hba1c_and_smoking(models: RiskModels) -> None:
    """No reading in 12 months (ACC/AHA 2017 reads pressure by recent readings): the estimate
    if measured. HbA1c and smoking status are not in the chart, and the model fills them in."""
    record = chart()  # body measures and lipids; no pressure, HbA1c or smoking status
    estimate = models.unmeasured_blood_pressure.predict(record)
    assert isinstance(estimate, RiskEstimate)
    assert set(estimate.missing) == {"hba1c", "current_smoker"}
    filled = {item.feature: item for item in explained(estimate).filled}
    assert set(filled) == {"hba1c", "current_smoker"}
    scorer_fills = models.unmeasured_blood_pressure.scorer.filled_in()
    names = models.unmeasured_blood_pressure.spec.feature_names
    for name, item in filled.items():
        assert item.filled_in == scorer_fills[names.index(name)]
    # What the filling-in moved is what the model says, recorded or not.
    together = sum(item.shapley for item in filled.values())
    assert together == pytest.approx(
        sum(c.shapley for c in estimate.contributions if c.feature in filled), abs=0
    )
    detail = _detail(advise(models, record), "hypertension-risk", "blood-pressure-unmeasured")
    _check_explanation(estimate, detail)


def test_diabetes_card_shows_the_averages_filled_in(models: RiskModels) -> None:
    """No HbA1c in 3 years (USPSTF 2021 screens adults 35-70 with overweight; ADA Standards of
    Care 2025 s.2): the estimate. Waist, lipids, pressure and smoking are missing; the logistic
    model fills each with its training average, which by its construction moves nothing."""
    bmi_only = tuple(item for item in ADULT_MEASURES if item["id"].startswith("bmi"))
    record = chart(measures=bmi_only)
    model = models.dysglycemia
    estimate = model.predict(record)
    assert isinstance(estimate, RiskEstimate)
    fills = dict(zip(model.spec.feature_names, model.scorer.filled_in(), strict=True))
    detail = _detail(advise(models, record), "diabetes-risk", "diabetes-risk")
    _check_explanation(estimate, detail)
    waist = fills["waist"]
    assert waist.value is not None
    assert f"Waist circumference: not recorded, filled in with {waist.value:.0f} cm" in detail


def test_a_push_is_said_against_the_average_adult(models: RiskModels) -> None:
    """A recorded value below the average lowers the estimate *relative to the average adult*;
    the card says so, never "lowered the estimate" as if the value were protective."""
    record = chart(blood_pressure(118, 74, days=20), blood_pressure(120, 76, days=50))
    estimate = models.dysglycemia.predict(record)
    assert isinstance(estimate, RiskEstimate)
    parts = explained(estimate)
    detail = _detail(advise(models, record), "diabetes-risk", "diabetes-risk")
    assert "Lowered the estimate" not in detail
    assert "Raised the estimate" not in detail
    for item in parts.recorded:
        direction = "higher" if item.shapley > 0 else "lower"
        assert f"{direction} than for the average adult" in push_words(
            parts.points(item.shapley), item.shapley
        )
    _check_explanation(estimate, detail)


def test_data_not_used_is_said_in_plain_words(models: RiskModels) -> None:
    """Issue 16, item 13: the card says what could not be used in a clinician's words; FHIR
    paths and units of the integrator's note stay off the card (No HbA1c in 3 years: the
    estimate, USPSTF 2021)."""
    stone = {
        "resourceType": "Observation",
        "id": "weight-stone",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
        "effectiveDateTime": "2026-10-01T09:00:00Z",
        "valueQuantity": {"value": 14, "unit": "stone"},
    }
    record = chart(stone)
    (issue,) = record.data_issues
    assert issue.path.startswith("Observation/weight-stone")  # the integrator's note is kept
    detail = _detail(advise(models, record), "diabetes-risk", "diabetes-risk")
    assert "- A result or measurement could not be used" in detail
    for technical in ("Observation/", "stone", "`"):
        assert technical not in detail


def test_a_pressure_too_old_for_the_model_is_not_called_not_recorded(models: RiskModels) -> None:
    """Issue 22, item 7: a BMI and a blood pressure taken at the same visit 600 days ago. The
    model reads body measures back 3 years and blood pressure 1 year (the mean of the last
    year's readings), so it uses the BMI and fills in the pressure; the card says the pressure
    is too old for it, with its date, never that it was not recorded."""
    visit = 600
    record = chart(
        blood_pressure(128, 92, days=visit),
        measures=(lab_result("39156-5", 34.0, "kg/m2", days=visit),),
    )
    estimate = models.dysglycemia.predict(record)
    assert isinstance(estimate, RiskEstimate)
    assert {"systolic", "diastolic"} <= set(estimate.missing)
    assert "bmi" not in estimate.missing
    detail = _detail(advise(models, record), "diabetes-risk", "diabetes-risk")
    taken = (AS_OF - timedelta(days=visit)).isoformat()
    for label in ("Systolic blood pressure", "Diastolic blood pressure"):
        assert f"- {label}: last recorded {taken}, older than the model's 1-year window" in detail
        assert f"{label}: not recorded" not in detail
    # What was never recorded is still said so.
    assert "- Waist circumference: not recorded, filled in with" in detail
    assert "**Not recorded or too old, filled in by the model:**" in detail
