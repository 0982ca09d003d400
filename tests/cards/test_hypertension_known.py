"""Known hypertension (diagnosed, treated or both): the mean against the goal, never a detection.

ACC/AHA 2017 (section 8.1.5): the goal for adults with confirmed hypertension is below 130/80,
treated or not. On treatment only readings taken after it began speak of it (section 8.3.1:
reassessed monthly after a start or change). Charts are FHIR resources read by the real
adapter (`fhir_charts`); docs/cards.md says who each card excludes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhir_charts import blood_pressure, chart, icd10_condition, medication
from golden_cards import advise, check_golden
from model_records import AS_OF

from cards.cds_card import SUMMARY_MAX_CHARACTERS
from models.hypertension import Finding, assess_hypertension
from models.hypertension_readings import treatment_window
from models.registry import RiskModels, load_risk_models

ESSENTIAL_HYPERTENSION = icd10_condition("I10", "Essential (primary) hypertension")
RAISED_TWICE = (blood_pressure(148, 94, days=10), blood_pressure(150, 96, days=40))
AT_GOAL_TWICE = (blood_pressure(124, 76, days=10), blood_pressure(126, 74, days=40))


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def ordered(display: str, days_ago: int | None) -> dict[str, Any]:
    """An active order of the drug, authored `days_ago` (None: no authoredOn)."""
    order = medication(display)
    del order["authoredOn"]
    if days_ago is not None:
        order["authoredOn"] = (AS_OF - timedelta(days=days_ago)).isoformat()
    return order


def test_diagnosed_untreated_above_goal_gets_the_goal_card(
    models: RiskModels, update_golden: bool
) -> None:
    # ACC/AHA 2017: goal below 130/80 in diagnosed hypertension; before, such a patient got no
    # card at all ("diagnosed: nothing to add").
    record = chart(ESSENTIAL_HYPERTENSION, *RAISED_TWICE)
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "diagnosed-blood-pressure-above-goal"
    assert card.card.indicator.value == "warning"
    assert "no antihypertensive on record" in card.card.summary
    assert "130/80 goal" in card.card.summary
    assert "No antihypertensive on record" in (card.card.detail or "")
    assert "ACC/AHA 2017" in (card.card.detail or "")
    # Known hypertension: no provisional diagnosis, no "no hypertension diagnosis".
    assert set(card.suggestion_kinds.values()) == {"home-bp-monitoring"}
    assert "no hypertension diagnosis" not in card.card.summary
    check_golden("hypertension-diagnosed-untreated-above-goal", cards, "p1", update_golden)


def test_diagnosed_and_treated_at_goal_gets_nothing(
    models: RiskModels, update_golden: bool
) -> None:
    # ACC/AHA 2017: below 130/80 on treatment is at goal; nothing to add.
    record = chart(ESSENTIAL_HYPERTENSION, ordered("lisinopril 10 MG Oral Tablet", 200),
                   *AT_GOAL_TWICE)  # fmt: skip
    assessment = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert assessment.finding is Finding.TREATED
    cards = advise(models, record)
    assert cards["hypertension-risk"] == []
    check_golden("hypertension-diagnosed-treated-at-goal", cards, "p1", update_golden)


def test_diagnosed_and_treated_above_goal_names_drug_and_diagnosis(models: RiskModels) -> None:
    record = chart(ESSENTIAL_HYPERTENSION, ordered("amlodipine 5 MG Oral Tablet", 200),
                   *RAISED_TWICE)  # fmt: skip
    (card,) = advise(models, record)["hypertension-risk"]
    assert card.card_type == "blood-pressure-above-treatment-goal"
    assert "amlodipine" in card.card.summary
    assert "Hypertension on the problem list" in (card.card.detail or "")


def test_diagnosed_without_a_reading_is_asked_for_one(
    models: RiskModels, update_golden: bool
) -> None:
    cards = advise(models, chart(ESSENTIAL_HYPERTENSION))
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "diagnosed-blood-pressure-unmeasured"
    assert card.card.indicator.value == "info"
    assert set(card.suggestion_kinds.values()) == {"bp-measurement"}
    check_golden("hypertension-diagnosed-no-reading", cards, "p1", update_golden)


def test_known_hypertension_without_a_recent_reading_shows_the_older_ones(
    models: RiskModels,
) -> None:
    # Issue 16, item 14: older readings are evidence; for known hypertension they are read
    # against the goal (ACC/AHA 2017: below 130/80), and said not to tell whether it is met now.
    older = (blood_pressure(150, 95, days=400), blood_pressure(124, 76, days=800))
    (card,) = advise(models, chart(ESSENTIAL_HYPERTENSION, *older))["hypertension-risk"]
    assert card.card_type == "diagnosed-blood-pressure-unmeasured"
    detail = card.card.detail or ""
    assert "150/95" in detail
    assert "1 of 2 earlier readings were at or above the 130/80 goal" in detail
    assert "undiagnosed" not in detail


def test_readings_before_treatment_began_do_not_count(
    models: RiskModels, update_golden: bool
) -> None:
    # Raised readings 90 and 60 days ago prompted lisinopril, ordered 30 days ago; none since.
    # ACC/AHA 2017: the goal is judged on treatment, so the card asks for a reading instead of
    # calling the pre-treatment mean "above goal on treatment".
    before = (blood_pressure(152, 96, days=60), blood_pressure(150, 94, days=90))
    record = chart(ordered("lisinopril 10 MG Oral Tablet", 30), *before)
    window = treatment_window(record)
    assert window.started == AS_OF - timedelta(days=30)
    assert len(window.before) == 2
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "treated-blood-pressure-unmeasured"
    assert "since treatment began" in card.card.summary
    detail = card.card.detail or ""
    assert "Not counted" in detail
    assert "152/96" in detail
    check_golden("hypertension-treated-pre-treatment-readings-only", cards, "p1", update_golden)


def test_the_mean_on_treatment_leaves_out_the_readings_before_it(models: RiskModels) -> None:
    # Before: 160/100 (day 90); on treatment: 126/76 twice. The mean on treatment is at goal.
    record = chart(ordered("lisinopril 10 MG Oral Tablet", 60),
                   blood_pressure(160, 100, days=90), *AT_GOAL_TWICE[:1],
                   blood_pressure(126, 76, days=20))  # fmt: skip
    assert advise(models, record)["hypertension-risk"] == []


def test_an_unknown_start_uses_the_last_three_months_and_says_so(models: RiskModels) -> None:
    # No authoredOn: the readings of the last 3 months (ACC/AHA 2017 monthly reassessment).
    record = chart(ordered("lisinopril 10 MG Oral Tablet", None),
                   blood_pressure(120, 70, days=150), blood_pressure(146, 92, days=20),
                   blood_pressure(144, 90, days=50))  # fmt: skip
    (card,) = advise(models, record)["hypertension-risk"]
    assert card.card_type == "blood-pressure-above-treatment-goal"
    detail = card.card.detail or ""
    assert "No start date is recorded" in detail
    assert "last 3 months" in detail
    assert "145/91 mmHg" in card.card.summary  # the 120/70 of 150 days ago is left out


def test_many_drugs_give_a_summary_that_fits_without_a_cut(models: RiskModels) -> None:
    drugs = [
        ordered(name, 200)
        for name in (
            "hydrochlorothiazide 25 MG Oral Tablet",
            "amlodipine 10 MG Oral Tablet",
            "lisinopril 40 MG Oral Tablet",
            "metoprolol succinate 100 MG Extended Release Oral Tablet",
            "spironolactone 25 MG Oral Tablet",
            "chlorthalidone 25 MG Oral Tablet",
            "valsartan 160 MG Oral Tablet",
        )
    ]
    (card,) = advise(models, chart(*drugs, *RAISED_TWICE))["hypertension-risk"]
    summary = card.card.summary
    assert len(summary) <= SUMMARY_MAX_CHARACTERS
    assert summary.endswith("goal on treatment")  # whole, not cut mid-word
    # Seven names do not fit: two are named and the others counted.
    assert summary.count(",") == 1
    assert "and 5 more" in summary
