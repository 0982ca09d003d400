"""Model inputs read from a `PatientRecord`: windows, means, codes, and what counts as missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from model_records import AS_OF, condition, measurement, reading, record

from fhir_adapters.codes import ConditionKind, DrugClass, Measure, SmokingStatus
from fhir_adapters.patient_record import AdministrativeSex, ClinicalStatus, MeasurementSetting
from models import features as f
from models.features import feature_vector
from models.prediction import Absence, MissingReason
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


# Issue 22, item 7: an input with no value says why, so a card never calls a reading that is
# in the chart "not recorded". The windows differ by input: body measures and laboratory
# values are read back 3 years, blood pressure 1 year (the mean of the last year's readings),
# so a pressure taken the same day as a BMI the model uses can be too old for it.
SAME_VISIT_DAYS = 600


def test_a_pressure_taken_with_the_bmi_but_older_than_its_window_is_too_old() -> None:
    chart = record(
        measurements=(measurement(Measure.BMI, 31.0, days=SAME_VISIT_DAYS),),
        blood_pressure=(reading(128, 92, days=SAME_VISIT_DAYS), reading(150, 95, days=900)),
    )
    assert f.BMI.extract(chart).value == 31.0
    taken = AS_OF - timedelta(days=SAME_VISIT_DAYS)
    for feature in (f.SYSTOLIC, f.DIASTOLIC):
        value = feature.extract(chart)
        assert value.value is None
        assert value.missing_reason == MissingReason(
            Absence.TOO_OLD, last_recorded=taken, window_years=1
        )


def test_a_measure_older_than_its_window_is_too_old_with_its_date() -> None:
    days = 3 * 365 + 1
    old = record(measurements=(measurement(Measure.BMI, 33.5, days=days),))
    assert f.BMI.extract(old).missing_reason == MissingReason(
        Absence.TOO_OLD, last_recorded=AS_OF - timedelta(days=days), window_years=3
    )


def test_only_what_was_never_recorded_is_not_recorded() -> None:
    chart = record(measurements=(), blood_pressure=(), smoking=None)
    for feature in (f.BMI, f.WAIST, f.HDL, f.SYSTOLIC, f.DIASTOLIC, f.CURRENT_SMOKER):
        value = feature.extract(chart)
        assert value.value is None
        assert value.missing_reason == MissingReason(Absence.NOT_RECORDED), feature.name
    assert f.BMI.extract(record()).missing_reason is None  # recorded: no reason to give


def test_a_home_reading_in_the_window_is_recorded_but_not_usable() -> None:
    """The models' NHANES data are examination (office) readings; home readings have their own
    thresholds (ACC/AHA 2017), so they are not averaged in, and the card says why."""
    home = replace(reading(138, 88, days=20), setting=MeasurementSetting.HOME)
    value = f.SYSTOLIC.extract(record(blood_pressure=(home,)))
    assert value.value is None
    assert value.missing_reason is not None
    assert value.missing_reason.absence is Absence.NOT_USABLE
    assert value.missing_reason.last_recorded == AS_OF - timedelta(days=20)
    assert "office" in value.missing_reason.reason


def test_an_implausible_diastolic_alone_is_recorded_but_not_usable() -> None:
    value = f.DIASTOLIC.extract(record(blood_pressure=(reading(120, 0, days=10),)))
    assert value.value is None
    assert value.missing_reason is not None
    assert value.missing_reason.absence is Absence.NOT_USABLE
    assert "20 mmHg" in value.missing_reason.reason
    assert f.SYSTOLIC.extract(record(blood_pressure=(reading(120, 0, days=10),))).value == 120.0


def test_a_smoking_status_recorded_as_unknown_is_not_usable() -> None:
    value = f.CURRENT_SMOKER.extract(record(smoking=SmokingStatus.UNKNOWN))
    assert value.value is None
    assert value.missing_reason is not None
    assert value.missing_reason.absence is Absence.NOT_USABLE
    assert value.missing_reason.last_recorded == AS_OF - timedelta(days=100)
