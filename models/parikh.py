"""The Framingham hypertension risk score (Parikh et al., Ann Intern Med 2008;148:102-110).

The 1-, 2- and 4-year risk of new hypertension, a Weibull model:
    mu = 22.949536 - 0.202933 female - 0.156412 age - 0.033881 BMI - 0.05933 SBP
         - 0.128468 DBP - 0.190731 smoker - 0.166121 parents + 0.001624 age x DBP
    risk(t) = 1 - exp(-exp((ln t - mu) / 0.876925))
with `parents` the number of parents with hypertension (0-2), as in the Framingham Heart
Study's own calculator. Derived in white adults aged 20-69 without hypertension or diabetes;
used here for ages 20-80 with SBP < 140 and DBP < 90, as the calculator allows (the limits are
in `criteria`).

Explanation: the margin is the log cumulative hazard, (ln t - mu) / scale, which is linear in
every input but the age x DBP term. Shapley values against a reference patient are therefore
exact in closed form: each linear term gives -beta (x - reference) / scale, and the product
term's share is split between age and DBP as c (a - a0)(d + d0) / 2 and c (d - d0)(a + a0) / 2,
which is what the Shapley definition gives for a product of two players.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import exp, log

from models.criteria import (
    PARIKH_DIASTOLIC_BELOW,
    PARIKH_MAX_AGE,
    PARIKH_MIN_AGE,
    PARIKH_SYSTOLIC_BELOW,
)

INTERCEPT = 22.949536
SCALE = 0.876925
COEFFICIENTS = {
    "female": -0.202933,
    "age": -0.156412,
    "bmi": -0.033881,
    "systolic": -0.05933,
    "diastolic": -0.128468,
    "current_smoker": -0.190731,
    "parents_with_hypertension": -0.166121,
}
AGE_X_DIASTOLIC = 0.001624
HORIZONS_YEARS = (1, 2, 4)

INPUTS = tuple(COEFFICIENTS)


class OutsideValidity(ValueError):
    """The patient is outside the population the equation was derived for."""


@dataclass(frozen=True)
class ParikhInputs:
    """The equation's inputs, in its own units (years, kg/m2, mmHg, counts)."""

    female: float
    age: float
    bmi: float
    systolic: float
    diastolic: float
    current_smoker: float
    parents_with_hypertension: float

    def value(self, name: str) -> float:
        """An input by its name in `INPUTS`."""
        result: float = getattr(self, name)
        return result


@dataclass(frozen=True)
class ParikhResult:
    """Risks by horizon, and the 4-year margin's exact Shapley decomposition."""

    risks: tuple[tuple[int, float], ...]
    margin: float
    expected_margin: float
    contributions: dict[str, float]


def check_validity(inputs: ParikhInputs, has_diabetes: bool) -> None:
    """Raise `OutsideValidity` with the reason when the equation does not apply."""
    reasons = []
    if not PARIKH_MIN_AGE <= inputs.age <= PARIKH_MAX_AGE:
        reasons.append(f"age {inputs.age:g} is outside {PARIKH_MIN_AGE}-{PARIKH_MAX_AGE} years")
    if inputs.systolic >= PARIKH_SYSTOLIC_BELOW:
        reasons.append(f"systolic {inputs.systolic:g} mmHg is not below {PARIKH_SYSTOLIC_BELOW:g}")
    if inputs.diastolic >= PARIKH_DIASTOLIC_BELOW:
        reasons.append(
            f"diastolic {inputs.diastolic:g} mmHg is not below {PARIKH_DIASTOLIC_BELOW:g}"
        )
    if has_diabetes:
        reasons.append("the equation was derived in people without diabetes")
    if inputs.parents_with_hypertension not in (0, 1, 2):
        reasons.append("parents with hypertension must be 0, 1 or 2")
    if reasons:
        raise OutsideValidity("; ".join(reasons))


def linear_predictor(inputs: ParikhInputs) -> float:
    """The Weibull location mu."""
    return (
        INTERCEPT
        + sum(beta * inputs.value(name) for name, beta in COEFFICIENTS.items())
        + AGE_X_DIASTOLIC * inputs.age * inputs.diastolic
    )


def risk(inputs: ParikhInputs, years: int) -> float:
    """The probability of hypertension within `years`."""
    return 1.0 - exp(-exp((log(years) - linear_predictor(inputs)) / SCALE))


def explain(inputs: ParikhInputs, reference: ParikhInputs) -> ParikhResult:
    """Risks at 1, 2 and 4 years, and exact Shapley values of the 4-year margin."""
    contributions = {
        name: -beta * (inputs.value(name) - reference.value(name)) / SCALE
        for name, beta in COEFFICIENTS.items()
    }
    half = -AGE_X_DIASTOLIC / SCALE / 2.0
    contributions["age"] += (
        half * (inputs.age - reference.age) * (inputs.diastolic + reference.diastolic)
    )
    contributions["diastolic"] += (
        half * (inputs.diastolic - reference.diastolic) * (inputs.age + reference.age)
    )
    horizon = HORIZONS_YEARS[-1]
    return ParikhResult(
        risks=tuple((years, risk(inputs, years)) for years in HORIZONS_YEARS),
        margin=(log(horizon) - linear_predictor(inputs)) / SCALE,
        expected_margin=(log(horizon) - linear_predictor(reference)) / SCALE,
        contributions=contributions,
    )
