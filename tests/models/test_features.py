"""Model inputs read from a `PatientRecord`: windows, means, codes, and what counts as missing."""

from __future__ import annotations

import pytest
from model_records import AS_OF, condition, measurement, reading, record

from fhir_adapters.codes import ConditionKind, DrugClass, Measure, SmokingStatus
from fhir_adapters.patient_record import AdministrativeSex, ClinicalStatus
from models import features as f
from models.features import feature_vector
from models.risk_models import DIABETES_FEATURES


def test_latest_value_with_its_source_and_date() -> None:
    chart = record(measurements=(measurement(Measure.BMI, 33.5, days=10),))
    value = f.BMI.extract(chart)
    assert (value.value, value.sources, value.effective) == (
        33.5,
        ("Observation/bmi",),
        AS_OF.replace(day=13),
    )


def test_a_value_older_than_its_window_is_missing() -> None:
    old = record(measurements=(measurement(Measure.BMI, 33.5, days=3 * 365 + 1),))
    assert f.BMI.extract(old).value is None
    recent = record(measurements=(measurement(Measure.BMI, 33.5, days=3 * 365 - 1),))
    assert f.BMI.extract(recent).value == 33.5


def test_blood_pressure_is_the_mean_of_the_last_years_readings() -> None:
    chart = record(
        blood_pressure=(
            reading(120, 80, days=10),
            reading(130, 70, days=200),
            reading(180, 110, days=400),  # more than a year ago: not part of the mean
        )
    )
    systolic, diastolic = f.SYSTOLIC.extract(chart), f.DIASTOLIC.extract(chart)
    assert (systolic.value, diastolic.value) == (125.0, 75.0)
    assert systolic.note == "mean of 2 readings in the last year"
    assert systolic.sources == ("Observation/bp-10", "Observation/bp-200")


def test_an_implausible_diastolic_is_left_out_of_the_mean() -> None:
    chart = record(blood_pressure=(reading(120, 0, days=10), reading(124, 76, days=20)))
    assert f.DIASTOLIC.extract(chart).value == 76.0
    assert f.SYSTOLIC.extract(chart).value == 122.0


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (SmokingStatus.CURRENT, 1.0),
        (SmokingStatus.FORMER, 0.0),
        (SmokingStatus.NEVER, 0.0),
        (SmokingStatus.UNKNOWN, None),
        (None, None),
    ],
)
def test_smoking_status(status: SmokingStatus | None, expected: float | None) -> None:
    assert f.CURRENT_SMOKER.extract(record(smoking=status)).value == expected


@pytest.mark.parametrize(
    ("sex", "expected"),
    [
        (AdministrativeSex.MALE, 1.0),
        (AdministrativeSex.FEMALE, 0.0),
        (AdministrativeSex.UNKNOWN, None),
        (AdministrativeSex.OTHER, None),
    ],
)
def test_sex(sex: AdministrativeSex, expected: float | None) -> None:
    assert f.MALE_SEX.extract(record(sex=sex)).value == expected


def test_diagnoses_are_ever_told_and_treatment_counts_for_diabetes() -> None:
    assert f.PREDIABETES.extract(record()).value == 0.0
    resolved = record(conditions=(condition(ConditionKind.PREDIABETES, ClinicalStatus.RESOLVED),))
    assert f.PREDIABETES.extract(resolved).value == 1.0
    treated = record(medications=(DrugClass.ANTIDIABETIC,))
    assert f.DIABETES.extract(treated).value == 1.0
    assert f.DIABETES.extract(treated).sources == ("MedicationRequest/antidiabetic",)


def test_the_vector_lists_what_is_missing() -> None:
    chart = record(measurements=(measurement(Measure.BMI, 29.0),), blood_pressure=(), smoking=None)
    vector = feature_vector(chart, DIABETES_FEATURES)
    assert vector.missing == (
        "waist",
        "systolic",
        "diastolic",
        "hdl",
        "total_cholesterol",
        "current_smoker",
    )
    assert vector.as_array().shape == (len(DIABETES_FEATURES),)
