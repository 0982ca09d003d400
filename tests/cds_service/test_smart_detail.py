"""The SMART page's estimates in words: an input without a value says why, in clinical words,
never a feature's code name, and never "not recorded" of a value that is in the chart."""

from __future__ import annotations

from datetime import date

from cds_service.smart.detail import explain
from models.prediction import Absence, MissingReason, NoEstimate
from models.risk_models import DYSGLYCEMIA

OLD_BMI = MissingReason(Absence.TOO_OLD, last_recorded=date(2022, 11, 24), window_years=3)


def test_no_estimate_names_each_missing_input_and_why() -> None:
    answer = NoEstimate(
        DYSGLYCEMIA.name,
        ("needs BMI",),
        missing=("bmi", "waist"),
        missing_reasons=(("bmi", OLD_BMI),),
    )
    old_bmi, waist = explain(answer).missing
    assert old_bmi.startswith("BMI")
    assert old_bmi.endswith(": last recorded 2022-11-24, older than the model's 3-year window")
    # An input with no reason given was not recorded at all.
    assert waist == "Waist circumference: not recorded"
