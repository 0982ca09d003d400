"""The laboratory cards of `diabetes-risk`: ADA 2025 criteria, units as reported, no rounding
across a cut-off, and glucose codes whose fasting status is unknown.

Charts are FHIR Observations read by the real adapter (`fhir_charts`), so the LOINC codes and
units are tested with the cards. Every expectation follows the ADA Standards of Care in Diabetes
2025, section 2 ("Diagnosis and Classification"): diabetes is HbA1c >= 6.5%, fasting plasma
glucose >= 126 mg/dL, or random glucose >= 200 mg/dL with classic symptoms; without unequivocal
hyperglycaemia two abnormal results are needed (same sample or two separate samples);
prediabetes is HbA1c 5.7-6.4% or fasting glucose 100-125 mg/dL. docs/cards.md lists the goldens.
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir_charts import chart, lab_result, pregnancy
from golden_cards import advise, check_golden

from cards.diabetes_results import shown_value
from cards.explanation import shown_number
from cards.policy import FeedbackHistory
from fhir_adapters.codes import Measure
from fhir_adapters.patient_record import PatientRecord
from models.registry import RiskModels, load_risk_models

HBA1C, HBA1C_IFCC = "4548-4", "59261-8"
FASTING, SERUM_GLUCOSE, BLOOD_GLUCOSE = "1558-6", "2345-7", "2339-0"


@pytest.fixture(scope="module")
def models() -> RiskModels:
    return load_risk_models()


def hba1c(value: float, days: int = 20, unit: str = "%") -> dict[str, Any]:
    """An HbA1c result: NGSP % (LOINC 4548-4) or IFCC mmol/mol (LOINC 59261-8)."""
    return lab_result(HBA1C if unit == "%" else HBA1C_IFCC, value, unit, days)


def glucose(value: float, days: int, loinc: str = FASTING, hour: int = 8) -> dict[str, Any]:
    """A glucose result in mg/dL; fasting (LOINC 1558-6) unless another code is given."""
    return lab_result(loinc, value, "mg/dL", days, hour)


def diabetes_card(models: RiskModels, record: PatientRecord, **history: Any) -> Any:
    """The one diabetes-risk card for the chart."""
    (card,) = advise(models, record, FeedbackHistory(**history))["diabetes-risk"]
    return card


def kinds(card: Any) -> list[str]:
    """The card's suggestion kinds, in order."""
    return list(card.suggestion_kinds.values())


# ADA 2025 s.2: the cut-off is the lowest value of the diabetes range; 6.4 is prediabetes.
def test_hba1c_6_4_is_the_prediabetes_range(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(6.4))
    card = diabetes_card(models, record)
    assert card.card_type == "prediabetes-range-hba1c"
    assert card.card.summary.startswith("HbA1c 6.4% on ")
    check_golden("diabetes-hba1c-6.4-single", advise(models, record), "p1", update_golden)


# ADA 2025 s.2: one HbA1c of 6.5% without unequivocal hyperglycaemia is not a diagnosis; a
# second abnormal result (repeat HbA1c, or fasting glucose >= 126) confirms.
def test_a_single_hba1c_6_5_asks_for_confirmation(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(6.5))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-range-unconfirmed"
    assert card.card.indicator.value == "warning"
    assert "not confirmed" in card.card.summary
    assert "repeat HbA1c or fasting glucose suggested" in card.card.summary
    assert kinds(card) == ["hba1c-order", "fasting-glucose-order"]  # no diagnosis to add
    assert "What confirms" in card.card.detail
    assert "same sample" in card.card.detail
    check_golden("diabetes-hba1c-6.5-single", advise(models, record), "p1", update_golden)


# Issue 16 item 5: 6.45% is below 6.5% (ADA 2025 s.2) and must never be shown as "6.5%".
def test_a_reported_6_45_is_shown_as_6_45(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(6.45))
    card = diabetes_card(models, record)
    assert card.card_type == "prediabetes-range-hba1c"
    assert "6.45%" in card.card.summary
    assert "6.5%" not in card.card.summary
    check_golden("diabetes-hba1c-6.45-percent", advise(models, record), "p1", update_golden)


# 47 mmol/mol (IFCC) = 6.45% NGSP (master equation), below the IFCC cut-off of 48 mmol/mol
# and ADA's 6.5%: prediabetes range, shown in the reported unit with the % beside it.
def test_47_mmol_per_mol_is_prediabetes(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(47, unit="mmol/mol"))
    card = diabetes_card(models, record)
    assert card.card_type == "prediabetes-range-hba1c"
    assert "HbA1c 47 mmol/mol (6.45%)" in card.card.summary
    assert "mmol/mol" in card.card.detail
    assert "IFCC" in card.card.detail
    check_golden("diabetes-hba1c-47-mmol-mol", advise(models, record), "p1", update_golden)


# 48 mmol/mol = 6.54%: the diabetes range (ADA 2025 s.2), one result, not confirmed.
def test_48_mmol_per_mol_is_the_diabetes_range(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(48, unit="mmol/mol"))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-range-unconfirmed"
    assert "HbA1c 48 mmol/mol (6.5%)" in card.card.summary
    check_golden("diabetes-hba1c-48-mmol-mol", advise(models, record), "p1", update_golden)


# ADA 2025 s.2: two abnormal HbA1c results from separate samples meet the criteria.
def test_hba1c_6_7_twice_meets_the_criteria(models: RiskModels, update_golden: bool) -> None:
    record = chart(hba1c(6.7, days=20), hba1c(6.7, days=120))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-possible-undiagnosed"
    assert card.card.summary.startswith("Meets ADA criteria for diabetes")
    assert kinds(card) == ["diabetes-problem-list"]
    (suggestion,) = card.card.suggestions
    evidence = suggestion.actions[0].resource["evidence"][0]["detail"]
    assert len(evidence) == 2  # the provisional entry cites both results
    check_golden("diabetes-hba1c-6.7-twice", advise(models, record), "p1", update_golden)


# ADA 2025 s.2: two different tests above their cut-offs (HbA1c and fasting glucose) confirm.
def test_hba1c_with_a_fasting_glucose_meets_the_criteria(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(hba1c(6.6, days=20), glucose(130, days=20))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-possible-undiagnosed"
    assert "HbA1c 6.6%" in card.card.summary
    assert "fasting glucose 130 mg/dL" in card.card.summary
    name = "diabetes-hba1c-6.6-fasting-glucose-130"
    check_golden(name, advise(models, record), "p1", update_golden)


# ADA 2025 s.2: fasting glucose 100-125 mg/dL is prediabetes (impaired fasting glucose).
def test_fasting_glucose_115_and_112_is_prediabetes(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(glucose(115, days=10), glucose(112, days=100))
    card = diabetes_card(models, record)
    assert card.card_type == "prediabetes-range-fasting-glucose"
    assert card.card.summary.startswith("Fasting glucose 115 mg/dL on ")
    assert "112 mg/dL" in card.card.detail
    assert kinds(card) == ["prediabetes-problem-list", "diabetes-prevention-referral"]
    check_golden("diabetes-fasting-glucose-115-112", advise(models, record), "p1", update_golden)


# ADA 2025 s.2: fasting glucose >= 126 on two separate days meets the criteria.
def test_fasting_glucose_130_twice_meets_the_criteria(
    models: RiskModels, update_golden: bool
) -> None:
    record = chart(glucose(130, days=10), glucose(130, days=40))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-possible-undiagnosed"
    check_golden("diabetes-fasting-glucose-130-twice", advise(models, record), "p1", update_golden)


def test_one_fasting_sample_reported_twice_is_one_result(models: RiskModels) -> None:
    # Two results of one test on one day are taken as one sample (ADA: two separate samples).
    record = chart(glucose(130, days=10, hour=8), glucose(131, days=10, hour=9))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-range-unconfirmed"
    assert kinds(card) == ["fasting-glucose-order", "hba1c-order"]


# ADA 2025 s.2: a random glucose >= 200 is diabetes only with classic symptoms, which the
# chart does not record: the card asks for confirmatory testing and diagnoses nothing.
def test_random_glucose_250_without_symptoms(models: RiskModels, update_golden: bool) -> None:
    record = chart(glucose(250, days=5, loinc=SERUM_GLUCOSE, hour=15))
    card = diabetes_card(models, record)
    assert card.card_type == "glucose-200-or-more"
    assert "confirmatory testing warranted" in card.card.summary
    assert "symptoms" in card.card.detail
    assert kinds(card) == ["hba1c-order", "fasting-glucose-order"]
    check_golden("diabetes-random-glucose-250", advise(models, record), "p1", update_golden)


# LOINC 2345-7 (and 2339-0) do not say the patient was fasting: 130 twice is not "fasting
# glucose >= 126 twice" (ADA 2025 s.2), but an abnormal glucose worth a fasting test.
@pytest.mark.parametrize("loinc", [SERUM_GLUCOSE, BLOOD_GLUCOSE])
def test_glucose_130_twice_of_unknown_fasting_status(
    models: RiskModels, update_golden: bool, loinc: str
) -> None:
    record = chart(glucose(130, days=10, loinc=loinc), glucose(130, days=60, loinc=loinc))
    card = diabetes_card(models, record)
    assert card.card_type == "glucose-unknown-fasting"
    assert card.card.indicator.value == "info"
    assert "fasting status unknown" in card.card.summary
    assert kinds(card) == ["fasting-glucose-order", "hba1c-order"]
    if loinc == SERUM_GLUCOSE:
        name = "diabetes-glucose-130-twice-2345-7"
        check_golden(name, advise(models, record), "p1", update_golden)


def test_a_later_hba1c_answers_a_glucose_of_unknown_fasting_status(models: RiskModels) -> None:
    # The HbA1c taken after the glucose has decided it: normal, so no card (USPSTF 2021).
    record = chart(glucose(130, days=60, loinc=SERUM_GLUCOSE), hba1c(5.3, days=10))
    assert advise(models, record)["diabetes-risk"] == []


def test_a_pending_confirmatory_test_is_not_suggested_again(models: RiskModels) -> None:
    # Issue 16 item 13: an accepted order removes the buttons and the card says it is awaited.
    card = diabetes_card(models, chart(hba1c(6.8)), accepted=frozenset({"hba1c-order"}))
    assert kinds(card) == []
    assert "suggested" not in card.card.summary
    assert "ordered, result awaited" in card.card.summary
    assert "was ordered from an earlier card" in card.card.detail


@pytest.mark.parametrize(
    ("value", "cut_offs", "decimals", "shown"),
    [
        (6.45, (5.7, 6.5), 1, "6.45"),
        (6.4999, (5.7, 6.5), 1, "6.4999"),
        (6.5, (5.7, 6.5), 1, "6.5"),
        (6.54304, (5.7, 6.5), 1, "6.5"),  # 48 mmol/mol: 6.5 is on the same side
        (5.65, (5.7, 6.5), 1, "5.65"),
        (125.6, (100.0, 126.0), 0, "125.6"),
        (126.112, (100.0, 126.0), 0, "126"),  # 7.0 mmol/L
    ],
)
def test_a_shown_value_stays_on_its_side_of_every_cut_off(
    value: float, cut_offs: tuple[float, ...], decimals: int, shown: str
) -> None:
    assert shown_number(value, cut_offs, decimals) == shown


def test_a_converted_glucose_is_shown_as_reported() -> None:
    record = chart(lab_result(FASTING, 7.0, "mmol/L", days=5))
    (item,) = record.history(Measure.GLUCOSE_FASTING)
    assert shown_value(item) == "7 mmol/L (126 mg/dL)"


def test_in_pregnancy_only_a_fasting_glucose_confirms(models: RiskModels) -> None:
    # ADA 2025: HbA1c is unreliable in pregnancy, so no HbA1c is suggested to confirm (s.2, s.15).
    record = chart(pregnancy(), hba1c(6.6))
    card = diabetes_card(models, record)
    assert card.card_type == "diabetes-range-unconfirmed"
    assert kinds(card) == ["fasting-glucose-order"]
    assert card.card.summary.endswith(": fasting glucose suggested")
    assert "In pregnancy HbA1c is unreliable" in card.card.detail
