"""The models' inputs: one definition each, read from a `PatientRecord` the way NHANES measured it.

A feature's name is also its NHANES column (see `nhanes`), so what a model is trained on and
what it is given at the bedside are defined side by side. Values older than the feature's
window are treated as missing: a BMI from 2015 does not describe the patient today. Missing
values stay missing (NaN); the models handle them (see each model card), nothing is invented.
A missing value says why (`MissingReason`): nothing recorded, recorded but older than the
window (the windows differ: a pressure taken with a BMI may be too old while the BMI is not),
or recorded but not usable (a home reading), so a card never calls a recorded value absent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from statistics import fmean

import numpy as np
import numpy.typing as npt

from fhir_adapters.codes import ConditionKind, DrugClass, Measure, SmokingStatus
from fhir_adapters.patient_record import AdministrativeSex, PatientRecord
from models.criteria import NHANES_TOP_CODED_AGE
from models.prediction import NOTHING_RECORDED, Absence, MissingReason

# How old a value may be and still describe the patient today, in years (a card says them).
BODY_MEASURE_YEARS = 3
LABORATORY_YEARS = 3
# ACC/AHA 2017 reads blood pressure as the mean of recent readings; a year is "recent" here.
BLOOD_PRESSURE_YEARS = 1
BODY_MEASURE_WINDOW = timedelta(days=BODY_MEASURE_YEARS * 365)
LABORATORY_WINDOW = timedelta(days=LABORATORY_YEARS * 365)
BLOOD_PRESSURE_WINDOW = timedelta(days=BLOOD_PRESSURE_YEARS * 365)
# A diastolic reading below this is a recording artefact (NHANES codes some as 0), not a pressure.
MIN_PLAUSIBLE_DIASTOLIC = 20.0
# Why a reading in the window is not given to a model, in a clinician's words.
NOT_AN_OFFICE_READING = "only home or ambulatory readings (the model takes office readings)"
IMPLAUSIBLE_DIASTOLIC = f"diastolic below {MIN_PLAUSIBLE_DIASTOLIC:g} mmHg, a recording artefact"
SMOKING_STATUS_UNKNOWN = "status recorded as unknown"


@dataclass(frozen=True)
class FeatureValue:
    """One input as given to a model: its value (None when missing) and where it came from."""

    name: str
    value: float | None
    sources: tuple[str, ...] = ()
    effective: date | None = None
    # How the value was made when it is not one recorded value, e.g. "mean of 3 readings".
    note: str = ""
    # When `value` is None: why (nothing recorded, too old for the window, not usable).
    missing_reason: MissingReason | None = None


@dataclass(frozen=True)
class Feature:
    """A model input: its name, how a clinician reads it, its unit, and how it is found."""

    name: str
    label: str
    unit: str
    extract: Callable[[PatientRecord], FeatureValue]


def _too_old(name: str, last_recorded: date, years: int) -> FeatureValue:
    return FeatureValue(
        name, None, missing_reason=MissingReason(Absence.TOO_OLD, last_recorded, years)
    )


def _latest(name: str, measure: Measure, years: int) -> Callable[[PatientRecord], FeatureValue]:
    window = timedelta(days=years * 365)

    def extract(record: PatientRecord) -> FeatureValue:
        latest = record.latest(measure)
        if latest is None:
            return FeatureValue(name, None, missing_reason=NOTHING_RECORDED)
        if latest.effective.date() < record.as_of - window:
            return _too_old(name, latest.effective.date(), years)
        return FeatureValue(name, latest.value, (latest.source,), latest.effective.date())

    return extract


def _age(record: PatientRecord) -> FeatureValue:
    age = record.demographics.age_years
    if age is None:
        return FeatureValue("age", None, missing_reason=NOTHING_RECORDED)
    return FeatureValue("age", float(age))


def _male_sex(record: PatientRecord) -> FeatureValue:
    sex = record.demographics.sex
    if sex is AdministrativeSex.MALE:
        return FeatureValue("male_sex", 1.0)
    if sex is AdministrativeSex.FEMALE:
        return FeatureValue("male_sex", 0.0)
    return FeatureValue("male_sex", None, missing_reason=NOTHING_RECORDED)


def _plausible(part: str, value: float) -> bool:
    return part != "diastolic" or value >= MIN_PLAUSIBLE_DIASTOLIC


def _no_mean_pressure(record: PatientRecord, name: str, part: str) -> FeatureValue:
    """Why no reading of the last year is averaged: none taken, all too old, or not usable."""
    since = record.as_of - BLOOD_PRESSURE_WINDOW
    # Newest first, as the record holds them.
    taken = [reading for reading in record.blood_pressure if getattr(reading, part) is not None]
    if not taken:
        return FeatureValue(name, None, missing_reason=NOTHING_RECORDED)
    newest = taken[0].effective.date()
    if newest < since:
        return _too_old(name, newest, BLOOD_PRESSURE_YEARS)
    office = set(record.office_blood_pressure)
    recent_office = [r for r in taken if r in office and r.effective.date() >= since]
    # Office readings of the last year with no usable value: only an artefact's diastolic.
    if recent_office:
        unusable = MissingReason(
            Absence.NOT_USABLE, recent_office[0].effective.date(), reason=IMPLAUSIBLE_DIASTOLIC
        )
    else:
        unusable = MissingReason(Absence.NOT_USABLE, newest, reason=NOT_AN_OFFICE_READING)
    return FeatureValue(name, None, missing_reason=unusable)


def _mean_pressure(name: str, part: str) -> Callable[[PatientRecord], FeatureValue]:
    def extract(record: PatientRecord) -> FeatureValue:
        since = record.as_of - BLOOD_PRESSURE_WINDOW
        readings = [
            (reading, value)
            for reading in record.office_blood_pressure
            if reading.effective.date() >= since
            and (value := getattr(reading, part)) is not None
            and _plausible(part, value)
        ]
        if not readings:
            return _no_mean_pressure(record, name, part)
        sources = tuple(source for reading, _ in readings for source in reading.sources)
        return FeatureValue(
            name,
            fmean(value for _, value in readings),
            tuple(dict.fromkeys(sources)),
            readings[0][0].effective.date(),
            f"mean of {len(readings)} reading{'s' if len(readings) > 1 else ''} in the last year",
        )

    return extract


def _current_smoker(record: PatientRecord) -> FeatureValue:
    if not record.smoking:
        return FeatureValue("current_smoker", None, missing_reason=NOTHING_RECORDED)
    newest = record.smoking[0]
    if newest.status is SmokingStatus.UNKNOWN:
        when = newest.effective.date()
        unknown = MissingReason(Absence.NOT_USABLE, when, reason=SMOKING_STATUS_UNKNOWN)
        return FeatureValue("current_smoker", None, (newest.source,), when, missing_reason=unknown)
    return FeatureValue(
        "current_smoker",
        1.0 if newest.status is SmokingStatus.CURRENT else 0.0,
        (newest.source,),
        newest.effective.date(),
    )


def _diagnosis(
    name: str, kind: ConditionKind, drug_class: DrugClass | None = None
) -> Callable[[PatientRecord], FeatureValue]:
    # NHANES asked "ever told by a doctor", so a resolved diagnosis counts too (the adapter has
    # already dropped refuted ones), and one not on the record counts as the survey's "no" (0).
    def extract(record: PatientRecord) -> FeatureValue:
        sources = tuple(item.source for item in record.conditions if item.kind is kind)
        if drug_class is not None:
            sources += tuple(i.source for i in record.medications if i.drug_class is drug_class)
        return FeatureValue(name, 1.0 if sources else 0.0, sources)

    return extract


AGE = Feature("age", "Age", "years", _age)
MALE_SEX = Feature("male_sex", "Male sex", "", _male_sex)
BMI = Feature("bmi", "BMI", "kg/m2", _latest("bmi", Measure.BMI, BODY_MEASURE_YEARS))
WAIST = Feature(
    "waist",
    "Waist circumference",
    "cm",
    _latest("waist", Measure.WAIST_CIRCUMFERENCE, BODY_MEASURE_YEARS),
)
SYSTOLIC = Feature(
    "systolic", "Systolic blood pressure", "mmHg", _mean_pressure("systolic", "systolic")
)
DIASTOLIC = Feature(
    "diastolic", "Diastolic blood pressure", "mmHg", _mean_pressure("diastolic", "diastolic")
)
HDL = Feature(
    "hdl", "HDL cholesterol", "mg/dL", _latest("hdl", Measure.HDL_CHOLESTEROL, LABORATORY_YEARS)
)
TOTAL_CHOLESTEROL = Feature(
    "total_cholesterol",
    "Total cholesterol",
    "mg/dL",
    _latest("total_cholesterol", Measure.TOTAL_CHOLESTEROL, LABORATORY_YEARS),
)
HBA1C = Feature("hba1c", "HbA1c", "%", _latest("hba1c", Measure.HBA1C, LABORATORY_YEARS))
CURRENT_SMOKER = Feature("current_smoker", "Current smoker", "", _current_smoker)
PREDIABETES = Feature(
    "prediabetes", "Prediabetes diagnosis", "", _diagnosis("prediabetes", ConditionKind.PREDIABETES)
)
DIABETES = Feature(
    "diabetes",
    "Diabetes (diagnosis or treatment)",
    "",
    _diagnosis("diabetes", ConditionKind.DIABETES, DrugClass.ANTIDIABETIC),
)


@dataclass(frozen=True)
class FeatureVector:
    """A model's inputs for one patient, in the model's order."""

    values: tuple[FeatureValue, ...]

    def as_array(self) -> npt.NDArray[np.float64]:
        """The values as one row, NaN where missing."""
        return np.array(
            [np.nan if item.value is None else item.value for item in self.values], dtype=np.float64
        )

    @property
    def missing(self) -> tuple[str, ...]:
        """The names of the inputs that had no usable value."""
        return tuple(item.name for item in self.values if item.value is None)

    @property
    def missing_reasons(self) -> tuple[tuple[str, MissingReason], ...]:
        """Each input with no usable value and why: nothing recorded, too old, not usable."""
        return tuple(
            (item.name, item.missing_reason or NOTHING_RECORDED)
            for item in self.values
            if item.value is None
        )


# What NHANES 2017-18 recorded as its top value stood for everyone at or above it.
AGE_ENTERED_AS_TOP_CODE = (
    f"entered as {NHANES_TOP_CODED_AGE}: the model's data record every age of "
    f"{NHANES_TOP_CODED_AGE} and over as {NHANES_TOP_CODED_AGE}"
)


def nhanes_age(value: FeatureValue) -> FeatureValue:
    """An age as NHANES recorded it: above its top code, the top code, saying so in the note."""
    if value.value is None or value.value <= NHANES_TOP_CODED_AGE:
        return value
    return replace(value, value=float(NHANES_TOP_CODED_AGE), note=AGE_ENTERED_AS_TOP_CODE)


def feature_vector(record: PatientRecord, features: Sequence[Feature]) -> FeatureVector:
    """Read each feature from the record as the learned models' NHANES data hold it.

    Age is top-coded at 80, as NHANES recorded it, so a 90-year-old is given to a model as
    the "80 and over" its data knew, never as an age it never saw (`Feature.extract` keeps the
    exact age for the equations that have their own limits, such as Parikh's).
    """
    values = (feature.extract(record) for feature in features)
    return FeatureVector(tuple(nhanes_age(v) if v.name == AGE.name else v for v in values))
