"""Older readings are evidence (issue 16, item 14).

With no reading in the last 12 months the NHANES model estimates the chance of 130/80 or more
if measured, without the older readings; the card shows them (dates, values, ACC/AHA 2017
category), says what they mean and that the estimate does not use them, and is a warning when
all of them were 130/80 or more (ACC/AHA 2017: stage 1 from 130 systolic or 80 diastolic).
"""

from __future__ import annotations

import pytest
from fhir_charts import blood_pressure, chart
from golden_cards import advise, check_golden

from cards.cds_card import SUMMARY_MAX_CHARACTERS
from models.hypertension import Finding, assess_hypertension
from models.hypertension_readings import earlier_readings
from models.registry import RiskModels, load_risk_models

# The demo patient: 113/84 (2018), 121/82 (2021), 129/92 (2024), none since; all three in the
# hypertensive range by their diastolic (ACC/AHA 2017 stage 1: 80-89; stage 2: 90 or more).
DIASTOLIC_HIGH = (
    blood_pressure(129, 92, days=990),
    blood_pressure(121, 82, days=1900),
    blood_pressure(113, 84, days=3000),
)


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def test_older_diastolic_high_readings_make_a_warning_that_shows_them(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(*DIASTOLIC_HIGH, age=48)
    assessment = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert assessment.finding is Finding.UNMEASURED
    assert len(assessment.earlier) == 3
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "blood-pressure-unmeasured"
    assert card.card.indicator.value == "warning"
    assert "all 3 earlier readings" in card.card.summary
    assert len(card.card.summary) <= SUMMARY_MAX_CHARACTERS
    detail = card.card.detail or ""
    for shown in ("129/92", "121/82", "113/84", "stage 2 range", "stage 1 range"):
        assert shown in detail
    assert "All 3 earlier readings were at or above 130/80" in detail
    assert "a measurement is due" in detail
    assert "does not use readings older than 12 months" in detail
    assert {"bp-measurement", "home-bp-monitoring"} == set(card.suggestion_kinds.values())
    check_golden("hypertension-older-diastolic-high-readings", cards, "p1", update_golden)


def test_older_normal_readings_are_shown_and_the_estimate_says_it_does_not_use_them(
    models: RiskModels, update_golden: bool
) -> None:
    normal = (blood_pressure(118, 74, days=800), blood_pressure(116, 72, days=1500))
    cards = advise(models, chart(*normal, age=48))
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "blood-pressure-unmeasured"
    assert card.card.indicator.value != "warning" or card.band is not None
    detail = card.card.detail or ""
    assert "Both earlier readings were below 130/80" in detail
    assert "does not use readings older than 12 months" in detail
    assert "likely 130/80 or higher if measured" in card.card.summary
    check_golden("hypertension-older-normal-readings", cards, "p1", update_golden)


def test_some_raised_earlier_readings_are_counted(models: RiskModels) -> None:
    mixed = (blood_pressure(138, 86, days=800), blood_pressure(118, 72, days=1500))
    (card,) = advise(models, chart(*mixed, age=48))["hypertension-risk"]
    assert "1 of 2 earlier readings were at or above 130/80" in (card.card.detail or "")


def test_without_an_estimate_raised_earlier_readings_still_get_a_card(models: RiskModels) -> None:
    # No BMI: the model gives no number; the raised readings still call for a measurement.
    record = chart(*DIASTOLIC_HIGH, age=48, measures=())
    (card,) = advise(models, record)["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == ("blood-pressure-unmeasured", "warning")
    assert "all 3 earlier readings" in card.card.summary


def test_only_readings_older_than_a_year_are_earlier(models: RiskModels) -> None:
    record = chart(blood_pressure(150, 95, days=200), *DIASTOLIC_HIGH)
    assert [r.systolic for r in earlier_readings(record)] == [129, 121, 113]
