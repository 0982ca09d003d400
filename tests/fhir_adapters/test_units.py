"""Unit conversion and plausibility: the published factors, and refusals with their reasons."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapters.codes import UCUM, Measure
from fhir_adapters.units import (
    UNIT_RULES,
    UnusableQuantity,
    measure_in_canonical_unit,
    read_quantity,
)


def ucum(value: float, code: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code, **extra}


# Expected values worked by hand from the factors in shared/reference/clinical.md.
@pytest.mark.parametrize(
    ("measure", "quantity", "expected"),
    [
        (Measure.HBA1C, ucum(7.1, "%"), 7.1),
        (Measure.HBA1C, ucum(48, "mmol/mol"), 6.54304),  # 48 x 0.09148 + 2.152
        (Measure.HBA1C, ucum(39, "mmol/mol"), 5.71972),
        (Measure.GLUCOSE_FASTING, ucum(7.0, "mmol/L"), 126.112),  # 7.0 x 18.016
        (Measure.GLUCOSE_RANDOM, ucum(140, "mg/dL"), 140.0),
        (Measure.BODY_WEIGHT, ucum(200, "[lb_av]"), 90.718474),  # 200 x 0.45359237
        (Measure.BODY_WEIGHT, ucum(81500, "g"), 81.5),
        (Measure.BODY_HEIGHT, ucum(70, "[in_i]"), 177.8),  # 70 x 2.54
        (Measure.BODY_HEIGHT, ucum(1.75, "m"), 175.0),
        (Measure.WAIST_CIRCUMFERENCE, ucum(40, "[in_i]"), 101.6),
        (Measure.HDL_CHOLESTEROL, ucum(1.2, "mmol/L"), 46.404),  # 1.2 x 38.67
        (Measure.TRIGLYCERIDES, ucum(1.7, "mmol/L"), 150.569),  # 1.7 x 88.57
        (Measure.BMI, ucum(31.2, "kg/m2"), 31.2),
        # No UCUM system: the unit text is read through the list of known spellings.
        (Measure.BODY_WEIGHT, {"value": 150, "unit": "lbs"}, 68.0388555),
        (Measure.BMI, {"value": 27.5, "unit": "kg/m^2"}, 27.5),
        (Measure.GLUCOSE_RANDOM, {"value": 5.5, "unit": "mmol/l"}, 99.088),
    ],
)
def test_values_are_converted_to_the_canonical_unit(
    measure: Measure, quantity: dict[str, Any], expected: float
) -> None:
    assert measure_in_canonical_unit(measure, quantity) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("measure", "quantity", "reason"),
    [
        (Measure.BODY_WEIGHT, {"value": 14, "unit": "stone"}, "unit 'stone' is not a known unit"),
        (Measure.BODY_WEIGHT, ucum(70, "cm"), "unit 'cm' is not a unit of body weight"),
        (Measure.HBA1C, {"value": 6.1}, "HbA1c has no unit"),
        (Measure.BMI, ucum(900, "kg/m2"), "BMI 900 kg/m2 is outside the plausible range 10-100"),
        (Measure.HBA1C, ucum(0.065, "%"), "outside the plausible range"),
        (Measure.HBA1C, ucum(5.0, "%", comparator="<"), "qualified by '<'"),
        (Measure.HBA1C, {"unit": "%", "system": UCUM, "code": "%"}, "no numeric value"),
        (Measure.HBA1C, ucum(True, "%"), "no numeric value"),  # type: ignore[arg-type]
    ],
)
def test_unusable_quantities_are_refused_with_a_reason(
    measure: Measure, quantity: dict[str, Any], reason: str
) -> None:
    with pytest.raises(UnusableQuantity, match=reason.replace("(", r"\(")):
        measure_in_canonical_unit(measure, quantity)


@pytest.mark.parametrize("measure", list(Measure))
def test_a_value_in_the_canonical_unit_comes_back_unchanged(measure: Measure) -> None:
    rule = UNIT_RULES[measure]
    middle = (rule.low + rule.high) / 2
    assert measure_in_canonical_unit(measure, ucum(middle, rule.canonical)) == middle


@pytest.mark.parametrize(
    ("measure", "quantity", "value", "reported", "unit"),
    [
        (Measure.HBA1C, ucum(47, "mmol/mol"), 6.45156, 47.0, "mmol/mol"),  # 47 x 0.09148 + 2.152
        (Measure.HBA1C, ucum(6.45, "%"), 6.45, 6.45, "%"),
        (Measure.GLUCOSE_FASTING, ucum(7.0, "mmol/L"), 126.112, 7.0, "mmol/L"),
        (Measure.GLUCOSE_RANDOM, {"value": 130, "unit": "mg/dl"}, 130.0, 130.0, "mg/dL"),
    ],
)
def test_the_reported_value_and_unit_are_kept(
    measure: Measure, quantity: dict[str, Any], value: float, reported: float, unit: str
) -> None:
    # Issue 16 item 5: a card shows a result in the unit the laboratory reported.
    read = read_quantity(measure, quantity)
    assert read.value == pytest.approx(value, rel=1e-9)
    assert (read.reported_value, read.reported_unit) == (reported, unit)
