"""Pregnancy: no model's population, ACOG's thresholds for blood pressure, no adult suggestion.

Charts are FHIR resources read by the real adapter (`fhir_charts`), so the pregnancy codes and
statuses are tested with the cards. ACOG Practice Bulletin 222 (2020): 140/90 or more on two
occasions 4 hours apart after 20 weeks is gestational hypertension, 160/110 or more the severe
range; ADA 2025: HbA1c is unreliable in pregnancy. docs/cards.md says who each card excludes.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir_charts import blood_pressure, chart, condition, medication, pregnancy
from golden_cards import advise, check_golden

from fhir_adapters.codes import ICD10_CM, SNOMED, ConditionKind
from models.hypertension import Finding, assess_hypertension
from models.prediction import NoEstimate
from models.registry import RiskModels, load_risk_models

PREGNANT = pregnancy()  # SNOMED 77386006, active, onset 150 days ago


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def hba1c(value: float, days: int = 60) -> dict[str, Any]:
    """An HbA1c result in % (LOINC 4548-4)."""
    return {
        "resourceType": "Observation",
        "id": f"hba1c-{days}",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "effectiveDateTime": f"2026-{11 - days // 30:02d}-01",
        "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org",
                          "code": "%"},
    }  # fmt: skip


def types(cards: dict[str, list[Any]]) -> dict[str, list[str]]:
    """Each service's card types."""
    return {service: [item.card_type for item in issued] for service, issued in cards.items()}


def test_pregnant_with_142_92_gets_the_pregnancy_card(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(PREGNANT, blood_pressure(142, 92, days=3), blood_pressure(140, 90, days=10))
    assert record.pregnancy is not None  # the premise: the adapter read the pregnancy
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert card.card_type == "pregnancy-blood-pressure-raised"
    assert card.card.indicator.value == "warning"
    assert "pregnancy" in card.card.summary
    assert "preeclampsia" in card.card.summary
    assert card.suggestion_kinds == {}  # no provisional diagnosis, no home monitoring
    assert "ACOG" in card.card.source.label
    # No diabetes estimate in pregnancy (not the models' population; HbA1c unreliable).
    assert cards["diabetes-risk"] == []
    check_golden("pregnant-142-92", cards, "p1", update_golden)


def test_pregnant_with_165_112_is_critical(models: RiskModels, update_golden: bool) -> None:
    cards = advise(models, chart(PREGNANT, blood_pressure(165, 112, days=0)))
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == (
        "pregnancy-blood-pressure-severe",
        "critical",
    )
    assert "severe range" in card.card.summary
    check_golden("pregnant-165-112", cards, "p1", update_golden)


def test_pregnant_with_128_78_gets_nothing_and_no_model_answers(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(PREGNANT, blood_pressure(128, 78, days=3), blood_pressure(126, 76, days=40))
    for model in (
        models.dysglycemia,
        models.undiagnosed_diabetes,
        models.unmeasured_blood_pressure,
    ):
        refused = model.predict(record)
        assert isinstance(refused, NoEstimate)
        assert any("pregnancy" in reason for reason in refused.reasons)
    assessment = assess_hypertension(
        record, models.unmeasured_blood_pressure, models.hypertension_incidence
    )
    assert (assessment.finding, assessment.estimate) == (Finding.PREGNANT, None)
    cards = advise(models, record)
    assert cards == {"diabetes-risk": [], "hypertension-risk": []}
    check_golden("pregnant-128-78", cards, "p1", update_golden)


@pytest.mark.parametrize(
    "ended",
    [
        pregnancy("resolved", onset_days=400, abatement_days=120),  # postpartum, resolved
        pregnancy("active", onset_days=400, abatement_days=120),  # an end date: over (con-4)
        pregnancy("active", onset_days=400),  # "active" from 57 weeks ago: out of date
        pregnancy("inactive", onset_days=None),
    ],
)
def test_after_the_pregnancy_the_adult_rules_apply(
    models: RiskModels, ended: dict[str, Any]
) -> None:
    record = chart(ended, blood_pressure(142, 92, days=3), blood_pressure(140, 90, days=10))
    cards = advise(models, record)
    assert types(cards)["hypertension-risk"] == ["hypertension-detected"]  # ACC/AHA 2017


@pytest.mark.parametrize(
    ("coded", "pregnant"),
    [
        (condition(SNOMED, "77386006", "Pregnancy"), True),
        (condition(SNOMED, "72892002", "Normal pregnancy"), True),  # Synthea's code
        (condition(ICD10_CM, "Z33.1", "Pregnant state, incidental"), True),
        (condition(ICD10_CM, "Z34.02", "Supervision of normal first pregnancy"), True),
        (condition(ICD10_CM, "O09.522", "Supervision of elderly multigravida"), True),
        # History, and an encounter for termination, are not a current pregnancy.
        (condition(SNOMED, "161744009", "Past pregnancy history of miscarriage"), False),
        (condition(ICD10_CM, "Z33.2", "Encounter for elective termination"), False),
    ],
)
def test_which_codes_are_a_pregnancy(
    models: RiskModels, coded: dict[str, Any], pregnant: bool
) -> None:
    record = chart(coded, blood_pressure(142, 92, days=3), blood_pressure(140, 90, days=10))
    assert (record.pregnancy is not None) is pregnant
    expected = "pregnancy-blood-pressure-raised" if pregnant else "hypertension-detected"
    assert types(advise(models, record))["hypertension-risk"] == [expected]


def test_only_readings_of_this_pregnancy_count(models: RiskModels) -> None:
    # Raised before the pregnancy (onset 150 days ago), normal since: no card.
    before = (blood_pressure(150, 95, days=300), blood_pressure(152, 96, days=250))
    assert types(advise(models, chart(PREGNANT, *before, blood_pressure(118, 72, days=20)))) == {
        "diabetes-risk": [],
        "hypertension-risk": [],
    }
    # Unmeasured in the pregnancy: no card, and no "probability if measured".
    assert types(advise(models, chart(PREGNANT, *before)))["hypertension-risk"] == []


def test_treated_or_diagnosed_hypertension_in_pregnancy_gets_the_pregnancy_card(
    models: RiskModels,
) -> None:
    labetalol = medication("labetalol hydrochloride 200 MG Oral Tablet")
    diagnosed = condition(ICD10_CM, "I10", "Essential hypertension")
    for extra in (labetalol, diagnosed):
        record = chart(PREGNANT, extra, blood_pressure(150, 96, days=2))
        (card,) = advise(models, record)["hypertension-risk"]
        assert card.card_type == "pregnancy-blood-pressure-raised"
        assert "superimposed preeclampsia" in (card.card.detail or "")


def test_a_pregnant_adolescent_is_read_by_acog(models: RiskModels) -> None:
    record = chart(PREGNANT, blood_pressure(142, 92, days=3), age=16)
    assert types(advise(models, record))["hypertension-risk"] == ["pregnancy-blood-pressure-raised"]


def test_no_hba1c_follow_up_or_prevention_referral_in_pregnancy(models: RiskModels) -> None:
    prediabetes = condition(SNOMED, "714628002", "Prediabetes")
    record = chart(PREGNANT, prediabetes)
    assert record.has_condition(ConditionKind.PREDIABETES)
    assert advise(models, record)["diabetes-risk"] == []  # no yearly HbA1c card in pregnancy
    (card,) = advise(models, chart(PREGNANT, hba1c(6.1)))["diabetes-risk"]
    assert card.card_type == "prediabetes-range-hba1c"
    assert "diabetes-prevention-referral" not in card.suggestion_kinds.values()


# --- Postpartum: ACOG PB 222 and ACOG CO 736 -------------------------------------------------
# Hypertension and preeclampsia can first appear after delivery, up to 6 weeks postpartum.
# The 6 weeks run from the recorded end (abatement) when the EHR gives it; without one, a
# delivery from 20 weeks after the onset and by 42 weeks may have been in the last 6 weeks when
# the onset was 20-48 weeks ago.

DELIVERED_3_WEEKS_AGO = pregnancy("resolved", onset_days=43 * 7, abatement_days=21)
DELIVERED_10_WEEKS_AGO = pregnancy("resolved", onset_days=50 * 7, abatement_days=70)


def test_postpartum_3_weeks_150_95_prompts_evaluation_for_postpartum_preeclampsia(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(DELIVERED_3_WEEKS_AGO, blood_pressure(150, 95, days=2))
    assert record.pregnancy is None  # the premise: the pregnancy has ended
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    assert (card.card_type, card.card.indicator.value) == (
        "postpartum-blood-pressure-raised",
        "warning",
    )
    assert "postpartum preeclampsia" in card.card.summary
    assert "6 weeks" in (card.card.detail or "")
    assert card.suggestion_kinds == {}  # no provisional diagnosis, no home monitoring
    assert "Committee Opinion 736" in card.card.source.label
    # HbA1c is unreliable postpartum (ADA 2025 s.2): no diabetes estimate, no HbA1c suggested.
    assert cards["diabetes-risk"] == []
    check_golden("hypertension-postpartum-3-weeks-150-95", cards, "p1", update_golden)


def test_the_recorded_end_decides_postpartum_over_the_onset(models: RiskModels) -> None:
    # Onset 43 weeks ago: inferred, a delivery by 42 weeks might be 1 week ago; recorded, it
    # was 10 weeks ago, beyond the 6 weeks: the adult rules (ACC/AHA 2017).
    ended_long_ago = pregnancy("resolved", onset_days=43 * 7, abatement_days=70)
    raised = (blood_pressure(150, 95, days=2), blood_pressure(150, 95, days=9))
    assert types(advise(models, chart(ended_long_ago, *raised)))["hypertension-risk"] == [
        "hypertension-detected"
    ]
    # No onset, an end 2 weeks ago: postpartum (ACOG CO 736), said with the recorded date.
    ended_recently = pregnancy("resolved", onset_days=None, abatement_days=14)
    (card,) = advise(models, chart(ended_recently, *raised))["hypertension-risk"]
    assert card.card_type == "postpartum-blood-pressure-raised"
    assert "recorded as ended on" in (card.card.detail or "")
    assert "not known to the service" not in (card.card.detail or "")


def test_postpartum_without_a_reading_since_delivery_reads_no_pregnancy_reading_as_adult(
    models: RiskModels,
) -> None:
    # Delivered 2 weeks ago; raised readings only during the pregnancy (gestational
    # hypertension, ACOG PB 222): no adult "no hypertension diagnosis" card (ACC/AHA 2017) and no
    # provisional diagnosis from pregnancy readings, and no postpartum card without a reading.
    delivered = pregnancy("resolved", onset_days=290, abatement_days=14)
    during = (blood_pressure(150, 95, days=30), blood_pressure(148, 94, days=60))
    assert advise(models, chart(delivered, *during))["hypertension-risk"] == []


def test_postpartum_severe_range_is_critical(models: RiskModels, update_golden: bool) -> None:
    record = chart(DELIVERED_3_WEEKS_AGO, blood_pressure(164, 112, days=1))
    cards = advise(models, record)
    (card,) = cards["hypertension-risk"]
    check_golden("hypertension-postpartum-3-weeks-164-112", cards, "p1", update_golden)
    assert (card.card_type, card.card.indicator.value) == (
        "postpartum-blood-pressure-severe",
        "critical",
    )


def test_postpartum_10_weeks_150_95_gets_the_adult_rules(
    models: RiskModels, update_golden: bool
) -> None:
    # Beyond 6 weeks (onset 50 weeks ago: delivered at least 8 weeks ago) ACC/AHA 2017 applies.
    record = chart(DELIVERED_10_WEEKS_AGO, blood_pressure(150, 95, days=2),
                   blood_pressure(150, 95, days=9))  # fmt: skip
    cards = advise(models, record)
    assert types(cards)["hypertension-risk"] == ["hypertension-detected"]
    check_golden("hypertension-postpartum-10-weeks-150-95", cards, "p1", update_golden)


@pytest.mark.parametrize(
    ("ended", "expected"),
    [
        # Postpartum, below 140/90: no card (not the adult detection for a transient rise).
        (DELIVERED_3_WEEKS_AGO, []),
        # Ended 12 weeks after an onset 12 weeks ago: before 20 weeks, no delivery to follow.
        # (ACC/AHA 2017: one day in the stage 1 range, repeat.)
        (pregnancy("resolved", onset_days=12 * 7), ["blood-pressure-repeat"]),
    ],
)
def test_postpartum_below_140_90_and_early_losses(
    models: RiskModels, ended: dict[str, Any], expected: list[str]
) -> None:
    record = chart(ended, blood_pressure(134, 84, days=2))
    expected = [
        "blood-pressure-repeat" if t == "hypertension-repeat-adult" else t for t in expected
    ]
    assert types(advise(models, record))["hypertension-risk"] == expected
