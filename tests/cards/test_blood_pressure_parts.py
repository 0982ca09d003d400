"""How the blood-pressure cards write a pressure: never rounded across a cut-off (issue 16, item 5).

A mean of 129.6 systolic is below ACC/AHA 2017's 130 (stage 1), so a card that wrote "130"
would show a value in the range it says the patient is not in.
"""

from __future__ import annotations

import pytest

from cards.blood_pressure_parts import mmhg
from models.criteria import BloodPressureCategory, blood_pressure_category


@pytest.mark.parametrize(
    ("systolic", "diastolic", "written"),
    [
        (145.2, 91.4, "145/91"),  # far from every cut-off: whole mmHg
        (129.6, 79.6, "129.6/79.6"),  # just below 130/80 (ACC/AHA 2017 stage 1)
        (139.5, 89.5, "139.5/89.5"),  # just below 140/90 (stage 2; ACOG's range in pregnancy)
        (134.7, 84.6, "134.7/84.6"),  # just below home 135/85 (ACC/AHA 2017, Table 11)
        (159.6, 109.5, "159.6/109.5"),  # just below 160/110 (ACOG: severe range)
        (130.4, 80.2, "130/80"),  # rounding down stays on the cut-off's side
    ],
)
def test_a_pressure_is_never_written_across_a_cut_off(
    systolic: float, diastolic: float, written: str
) -> None:
    assert mmhg(systolic, diastolic) == written
    shown_systolic, shown_diastolic = (float(part) for part in written.split("/"))
    category: BloodPressureCategory = blood_pressure_category(systolic, diastolic)
    assert blood_pressure_category(shown_systolic, shown_diastolic) is category
