"""Poorly served subgroups (issue 16, item 12): the rule, the sentences, and the shipped models.

The rule (calibration slope outside 0.8-1.2 or AUROC below 0.65, with at least 100 held-out rows
and 10 of each outcome) is `models.subgroups`'; the artifact seals what it found on the held-out
rows, and `poorly_served` picks the subgroups a patient is in by sex and age band.
"""

from __future__ import annotations

import json

import pytest
from model_records import record

from fhir_adapters.patient_record import AdministrativeSex
from models.registry import SHIPPED_DIRECTORY, RiskModels, load_risk_models
from models.risk_models import LearnedRiskModel
from models.subgroups import (
    AGE_BAND,
    RACE_ETHNICITY,
    SEX,
    SubgroupCaveat,
    age_band,
    caveats,
    judge,
    poorly_served,
)

METRICS = json.loads((SHIPPED_DIRECTORY / "metrics.json").read_text())["models"]


@pytest.fixture(scope="module")
def shipped() -> RiskModels:
    return load_risk_models()


def _learned(models: RiskModels) -> tuple[LearnedRiskModel, ...]:
    return (models.dysglycemia, models.undiagnosed_diabetes, models.unmeasured_blood_pressure)


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (17, None),
        (18, "18-39"),
        (39, "18-39"),
        (40, "40-59"),
        (59, "40-59"),
        (60, "60-79"),
        (79, "60-79"),
        (80, "80 and over (top-coded)"),
        (101, "80 and over (top-coded)"),
    ],
)
def test_age_bands_follow_the_survey_with_80_top_coded(age: int, band: str | None) -> None:
    assert age_band(age) == band


def test_the_rule_flags_slope_and_auroc_only_with_enough_rows() -> None:
    assert judge(486, 13, 0.656, 0.46) == ("calibration",)
    assert judge(372, 220, 0.569, 0.75) == ("calibration", "discrimination")
    assert judge(400, 100, 0.64, 1.0) == ("discrimination",)
    assert judge(400, 100, 0.80, 0.80) == ()  # the range's ends are acceptable
    assert judge(400, 100, 0.80, 1.20) == ()
    assert judge(88, 66, 0.60, 2.05) == ()  # under 100 rows: too few to judge
    assert judge(486, 9, 0.60, 0.40) == ()  # fewer than 10 events
    assert judge(486, 480, 0.60, 0.40) == ()  # fewer than 10 non-events


def test_the_sentence_names_the_group_the_figure_and_the_rows() -> None:
    men = SubgroupCaveat("m", SEX, "Male", 486, 13, 0.656, 0.46, ("calibration",))
    assert men.sentence == (
        "Less reliable for men (486 held-out adults): its estimates are too extreme (calibration "
        "slope 0.46), so high figures may overstate and low ones understate the risk."
    )
    women = SubgroupCaveat("m", SEX, "Female", 708, 300, 0.7, 1.24, ("calibration",))
    assert women.sentence == (
        "Less reliable for women (708 held-out adults): its estimates are too timid (calibration "
        "slope 1.24), so the risk may be further from the average than shown."
    )
    older = SubgroupCaveat(
        "m", AGE_BAND, "60-79", 372, 220, 0.569, 0.75, ("calibration", "discrimination")
    )
    assert older.sentence == (
        "Less reliable for adults aged 60-79 (372 held-out adults): its estimates are too extreme "
        "(calibration slope 0.75), so high figures may overstate and low ones understate the "
        "risk; and it ranks risk less well (AUROC 0.57)."
    )
    ranking = SubgroupCaveat(
        "m", RACE_ETHNICITY, "Other Hispanic", 150, 40, 0.6, 1.0, ("discrimination",)
    )
    assert ranking.sentence == (
        "Less reliable for Other Hispanic adults (150 held-out adults): it ranks risk less well "
        "(AUROC 0.60)."
    )


def test_each_artifact_seals_exactly_the_subgroups_its_metrics_flag(shipped: RiskModels) -> None:
    for model in _learned(shipped):
        sealed = {(c.subgroup, c.value): c for c in caveats(model)}
        flagged = {
            tuple(name.split(": ", 1)): item
            for name, item in METRICS[model.spec.name]["subgroups"].items()
            if item["poorly_served"]
        }
        assert set(sealed) == set(flagged), model.spec.name
        for key, caveat in sealed.items():
            item = flagged[key]
            assert (caveat.n, caveat.events) == (item["n"], item["events"])
            assert caveat.calibration_slope == pytest.approx(item["calibration_slope"])
            assert caveat.reasons == tuple(item["poorly_served"])
            assert judge(caveat.n, caveat.events, caveat.auroc, caveat.calibration_slope)


def test_a_patient_gets_the_caveats_of_their_sex_and_age_band_only(shipped: RiskModels) -> None:
    for model in _learned(shipped):
        for sex in (AdministrativeSex.MALE, AdministrativeSex.FEMALE):
            for age in (25, 50, 70, 90):
                found = poorly_served(model, record(age=age, sex=sex))
                expected = {
                    (c.subgroup, c.value)
                    for c in caveats(model)
                    if (c.subgroup, c.value)
                    in {
                        (SEX, "Male" if sex is AdministrativeSex.MALE else "Female"),
                        (AGE_BAND, age_band(age)),
                    }
                }
                assert {(c.subgroup, c.value) for c in found} == expected
                assert all(c.subgroup != RACE_ETHNICITY for c in found)


def test_unknown_sex_and_age_match_no_group(shipped: RiskModels) -> None:
    chart = record(age=None, sex=AdministrativeSex.UNKNOWN)
    for model in _learned(shipped):
        assert poorly_served(model, chart) == ()


def test_the_issues_examples_are_caught(shipped: RiskModels) -> None:
    """Issue 16, item 12: men on undiagnosed diabetes (slope 0.46) and 60-79 on blood pressure."""
    men = poorly_served(shipped.undiagnosed_diabetes, record(age=30, sex=AdministrativeSex.MALE))
    assert [(c.subgroup, c.value) for c in men] == [(SEX, "Male")]
    assert men[0].sentence.startswith("Less reliable for men (")
    older = poorly_served(shipped.unmeasured_blood_pressure, record(age=70))
    assert (AGE_BAND, "60-79") in {(c.subgroup, c.value) for c in older}
