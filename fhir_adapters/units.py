"""Units: each measure in one canonical unit, converted from the units EHRs send.

A Quantity's UCUM `code` is trusted when its `system` is UCUM; otherwise its human-readable `unit`
is matched against a short list of spellings seen in EHR feeds ("mmHg", "lbs", "kg/m^2"). A unit
that is neither is refused with a reason, never guessed. Values outside what a living person can
have are refused too, not clipped: a BMI of 900 is a data-entry error, and 100 would be a lie.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhir_adapters.codes import UCUM, Measure

Conversion = Callable[[float], float]


def _scale(factor: float) -> Conversion:
    return lambda value: value * factor


_SAME: Conversion = _scale(1.0)
# IFCC-NGSP master equation: HbA1c % = 0.09148 x mmol/mol + 2.152.
_IFCC_TO_NGSP: Conversion = lambda mmol_per_mol: 0.09148 * mmol_per_mol + 2.152  # noqa: E731
GLUCOSE_MG_PER_MMOL = 18.016
CHOLESTEROL_MG_PER_MMOL = 38.67
TRIGLYCERIDE_MG_PER_MMOL = 88.57
KG_PER_POUND = 0.45359237
CM_PER_INCH = 2.54
MMHG_PER_KPA = 7.50062

_LENGTH_TO_CM: dict[str, Conversion] = {
    "cm": _SAME,
    "m": _scale(100.0),
    "mm": _scale(0.1),
    "[in_i]": _scale(CM_PER_INCH),
    "[in_us]": _scale(CM_PER_INCH),
    "[ft_i]": _scale(12 * CM_PER_INCH),
}
_LIPID_TO_MG_DL: dict[str, Conversion] = {
    "mg/dL": _SAME,
    "mmol/L": _scale(CHOLESTEROL_MG_PER_MMOL),
}


@dataclass(frozen=True)
class UnitRule:
    """A measure's canonical unit, the units converted to it, and its plausible range."""

    label: str
    canonical: str
    conversions: dict[str, Conversion]
    low: float
    high: float


UNIT_RULES: dict[Measure, UnitRule] = {
    Measure.HBA1C: UnitRule("HbA1c", "%", {"%": _SAME, "mmol/mol": _IFCC_TO_NGSP}, 3.0, 20.0),
    Measure.GLUCOSE_FASTING: UnitRule(
        "fasting glucose",
        "mg/dL",
        {"mg/dL": _SAME, "mmol/L": _scale(GLUCOSE_MG_PER_MMOL)},
        10.0,
        2000.0,
    ),
    Measure.GLUCOSE_RANDOM: UnitRule(
        "glucose", "mg/dL", {"mg/dL": _SAME, "mmol/L": _scale(GLUCOSE_MG_PER_MMOL)}, 10.0, 2000.0
    ),
    Measure.BMI: UnitRule("BMI", "kg/m2", {"kg/m2": _SAME}, 10.0, 100.0),
    Measure.BODY_WEIGHT: UnitRule(
        "body weight",
        "kg",
        {"kg": _SAME, "g": _scale(0.001), "[lb_av]": _scale(KG_PER_POUND)},
        0.3,
        650.0,
    ),
    Measure.BODY_HEIGHT: UnitRule("body height", "cm", _LENGTH_TO_CM, 25.0, 275.0),
    Measure.WAIST_CIRCUMFERENCE: UnitRule("waist circumference", "cm", _LENGTH_TO_CM, 25.0, 300.0),
    Measure.HDL_CHOLESTEROL: UnitRule("HDL cholesterol", "mg/dL", _LIPID_TO_MG_DL, 5.0, 250.0),
    Measure.TOTAL_CHOLESTEROL: UnitRule(
        "total cholesterol", "mg/dL", _LIPID_TO_MG_DL, 40.0, 1500.0
    ),
    Measure.LDL_CHOLESTEROL: UnitRule("LDL cholesterol", "mg/dL", _LIPID_TO_MG_DL, 5.0, 1000.0),
    Measure.TRIGLYCERIDES: UnitRule(
        "triglycerides",
        "mg/dL",
        {"mg/dL": _SAME, "mmol/L": _scale(TRIGLYCERIDE_MG_PER_MMOL)},
        10.0,
        20000.0,
    ),
}
MMHG = "mm[Hg]"
BLOOD_PRESSURE_RULE = UnitRule(
    "blood pressure", MMHG, {MMHG: _SAME, "kPa": _scale(MMHG_PER_KPA)}, 0.0, 0.0
)
SYSTOLIC_RANGE = (50.0, 300.0)
DIASTOLIC_RANGE = (20.0, 200.0)

# Spellings of the `unit` text (not UCUM codes) seen in EHR feeds, by the UCUM code they mean.
_UNIT_TEXT_ALIASES: dict[str, str] = {
    "%": "%",
    "mmol/mol": "mmol/mol",
    "mg/dl": "mg/dL",
    "mmol/l": "mmol/L",
    "kg/m2": "kg/m2",
    "kg/m^2": "kg/m2",
    "kg/m²": "kg/m2",
    "kg": "kg",
    "g": "g",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "cm": "cm",
    "m": "m",
    "mm": "mm",
    "in": "[in_i]",
    "inch": "[in_i]",
    "inches": "[in_i]",
    "ft": "[ft_i]",
    "mmhg": MMHG,
    "mm hg": MMHG,
    "mm[hg]": MMHG,
    "kpa": "kPa",
}


class UnusableQuantity(ValueError):
    """A quantity that cannot be read as the measure; the message says why, for the card."""


def unit_code(quantity: dict[str, object]) -> str | None:
    """The UCUM code a Quantity means: its code when the system is UCUM, else its known text."""
    code = quantity.get("code")
    if quantity.get("system") == UCUM and isinstance(code, str):
        return code
    text = quantity.get("unit")
    if isinstance(text, str):
        return _UNIT_TEXT_ALIASES.get(text.strip().lower())
    if isinstance(code, str) and quantity.get("system") is None:
        return _UNIT_TEXT_ALIASES.get(code.strip().lower())
    return None


def quantity_value(quantity: dict[str, object]) -> float:
    """The number of a Quantity; `UnusableQuantity` when there is none or it is qualified."""
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnusableQuantity("no numeric value")
    if quantity.get("comparator") is not None:
        # "<5.0" is not 5.0: a bound cannot stand in for a measurement.
        raise UnusableQuantity(f"value is qualified by '{quantity['comparator']}'")
    return float(value)


def to_canonical(rule: UnitRule, quantity: dict[str, object], what: str) -> float:
    """The quantity in the rule's canonical unit; `UnusableQuantity` with the reason otherwise."""
    return _converted(rule, quantity, what)[0]


def _converted(rule: UnitRule, quantity: dict[str, object], what: str) -> tuple[float, float, str]:
    """(value in the rule's canonical unit, the number as reported, its UCUM code), each read
    once; `UnusableQuantity` with the reason otherwise."""
    value = quantity_value(quantity)
    code = unit_code(quantity)
    if code is None:
        stated = quantity.get("unit") or quantity.get("code")
        if stated is None:
            raise UnusableQuantity(f"{what} has no unit")
        raise UnusableQuantity(f"unit '{stated}' is not a known unit of {what}")
    conversion = rule.conversions.get(code)
    if conversion is None:
        stated = quantity.get("unit") or quantity.get("code")
        raise UnusableQuantity(f"unit '{stated}' is not a unit of {what}")
    return conversion(value), value, code


def check_range(value: float, low: float, high: float, what: str, unit: str) -> None:
    """`UnusableQuantity` when the value is outside what a living person can have."""
    if not low <= value <= high:
        raise UnusableQuantity(
            f"{what} {value:g} {unit} is outside the plausible range {low:g}-{high:g} {unit}"
        )


def measure_in_canonical_unit(measure: Measure, quantity: dict[str, object]) -> float:
    """The measure's value in its canonical unit, range-checked."""
    rule = UNIT_RULES[measure]
    value = to_canonical(rule, quantity, rule.label)
    check_range(value, rule.low, rule.high, rule.label, rule.canonical)
    return value


@dataclass(frozen=True)
class ReadQuantity:
    """A measure's value in its canonical unit, and the number and UCUM unit it was reported in."""

    value: float
    reported_value: float
    reported_unit: str


def read_quantity(measure: Measure, quantity: dict[str, object]) -> ReadQuantity:
    """The measure's value in its canonical unit (range-checked) with the value as reported."""
    rule = UNIT_RULES[measure]
    value, reported_value, reported_unit = _converted(rule, quantity, rule.label)
    check_range(value, rule.low, rule.high, rule.label, rule.canonical)
    return ReadQuantity(value, reported_value, reported_unit)
