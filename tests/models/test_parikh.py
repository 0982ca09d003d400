"""The Parikh equation against worked examples, its validity range, and its exact explanation."""

from __future__ import annotations

from itertools import combinations
from math import factorial, log

import pytest

from models import parikh
from models.parikh import OutsideValidity, ParikhInputs

# Worked by hand from the published coefficients, term by term (mu, then each horizon's risk
# = 1 - exp(-exp((ln t - mu) / 0.876925))).
#
# A: woman, 45 y, BMI 27, 125/82, non-smoker, one parent with hypertension.
#    22.949536 - 0.202933 - 7.03854 (0.156412 x 45) - 0.914787 (0.033881 x 27)
#    - 7.41625 (0.05933 x 125) - 10.534376 (0.128468 x 82) - 0 - 0.166121
#    + 5.99256 (0.001624 x 45 x 82) = mu 2.669089
# B: man, 60 y, BMI 31, 135/85, smoker, both parents.
#    22.949536 - 0 - 9.38472 - 1.050311 - 8.00955 - 10.91978 - 0.190731 - 0.332242
#    + 8.2824 = mu 1.344602
# C: woman, 30 y, BMI 22, 110/70, non-smoker, neither parent: mu 5.200201
WORKED_EXAMPLES = [
    (ParikhInputs(1, 45, 27, 125, 82, 0, 1), 2.669089, (0.046541, 0.099726, 0.206720)),
    (ParikhInputs(0, 60, 31, 135, 85, 1, 2), 1.344602, (0.194119, 0.378574, 0.649604)),
    (ParikhInputs(1, 30, 22, 110, 70, 0, 0), 5.200201, (0.002655, 0.005843, 0.012834)),
]
REFERENCE = ParikhInputs(0.55, 41.0, 28.0, 116.0, 72.0, 0.15, 0.0)


@pytest.mark.parametrize(("inputs", "mu", "risks"), WORKED_EXAMPLES)
def test_matches_the_worked_examples(
    inputs: ParikhInputs, mu: float, risks: tuple[float, float, float]
) -> None:
    assert parikh.linear_predictor(inputs) == pytest.approx(mu, abs=1e-6)
    for years, expected in zip(parikh.HORIZONS_YEARS, risks, strict=True):
        assert parikh.risk(inputs, years) == pytest.approx(expected, abs=1e-6)
    assert parikh.explain(inputs, REFERENCE).risks == tuple(
        (years, parikh.risk(inputs, years)) for years in parikh.HORIZONS_YEARS
    )


@pytest.mark.parametrize(
    ("inputs", "has_diabetes", "reason"),
    [
        (ParikhInputs(1, 19, 25, 120, 75, 0, 0), False, "age 19 is outside 20-80"),
        (ParikhInputs(1, 81, 25, 120, 75, 0, 0), False, "age 81 is outside 20-80"),
        (ParikhInputs(1, 50, 25, 140, 75, 0, 0), False, "systolic 140 mmHg is not below 140"),
        (ParikhInputs(1, 50, 25, 120, 90, 0, 0), False, "diastolic 90 mmHg is not below 90"),
        (ParikhInputs(1, 50, 25, 120, 75, 0, 0), True, "without diabetes"),
        (ParikhInputs(1, 50, 25, 120, 75, 0, 3), False, "must be 0, 1 or 2"),
    ],
)
def test_refuses_patients_outside_its_validity_range(
    inputs: ParikhInputs, has_diabetes: bool, reason: str
) -> None:
    with pytest.raises(OutsideValidity, match=reason):
        parikh.check_validity(inputs, has_diabetes)


def test_accepts_the_edges_of_its_range() -> None:
    parikh.check_validity(ParikhInputs(0, 20, 25, 139.9, 89.9, 1, 2), has_diabetes=False)
    parikh.check_validity(ParikhInputs(0, 80, 25, 100, 60, 0, 0), has_diabetes=False)


def _shapley_by_definition(inputs: ParikhInputs, reference: ParikhInputs) -> dict[str, float]:
    """Shapley values from their definition: every coalition of the seven inputs."""

    def value(coalition: frozenset[str]) -> float:
        mixed = ParikhInputs(
            **{
                name: (inputs if name in coalition else reference).value(name)
                for name in parikh.INPUTS
            }
        )
        return (log(4) - parikh.linear_predictor(mixed)) / parikh.SCALE

    n = len(parikh.INPUTS)
    result = {}
    for player in parikh.INPUTS:
        others = [name for name in parikh.INPUTS if name != player]
        result[player] = sum(
            factorial(size)
            * factorial(n - size - 1)
            / factorial(n)
            * (value(frozenset(subset) | {player}) - value(frozenset(subset)))
            for size in range(n)
            for subset in combinations(others, size)
        )
    return result


@pytest.mark.parametrize(("inputs", "_mu", "_risks"), WORKED_EXAMPLES)
def test_the_closed_form_explanation_is_the_shapley_value(
    inputs: ParikhInputs, _mu: float, _risks: tuple[float, float, float]
) -> None:
    result = parikh.explain(inputs, REFERENCE)
    by_definition = _shapley_by_definition(inputs, REFERENCE)
    for name in parikh.INPUTS:
        assert result.contributions[name] == pytest.approx(by_definition[name], abs=1e-12)
    total = result.expected_margin + sum(result.contributions.values())
    assert abs(total - result.margin) < 1e-12
    # The margin is the 4-year risk's complementary log-log.
    assert result.margin == pytest.approx(log(-log(1 - result.risks[-1][1])), abs=1e-9)
