"""Which blood pressure readings an answer rests on, and their means.

The last year's mean and the days it spans (ACC/AHA 2017: a diagnosis on two or more
occasions; AAP 2017: 3 visits for adolescents), the readings after treatment began (the goal is
judged on treatment), the latest visit (a child's screening), and the readings older than the
12-month window (evidence when none is recent). Office readings only: home and ambulatory
readings have thresholds of their own (`models.home_blood_pressure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from statistics import fmean

from fhir_adapters.codes import DrugClass
from fhir_adapters.patient_record import BloodPressureReading, PatientRecord
from models.criteria import (
    ADOLESCENT_HYPERTENSION_VISITS,
    ADULT_AGE,
    BLOOD_PRESSURE_OCCASIONS,
    EARLIER_READINGS_YEARS,
    TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN,
    above_treated_goal,
    blood_pressure_category,
)
from models.features import (
    BLOOD_PRESSURE_WINDOW,
    DIASTOLIC,
    MIN_PLAUSIBLE_DIASTOLIC,
    SYSTOLIC,
    FeatureValue,
)


@dataclass(frozen=True)
class PressureSummary:
    """The mean of the last year's readings, as ACC/AHA reads them."""

    systolic: FeatureValue
    diastolic: FeatureValue
    occasions: int
    # The days whose own mean was 130/80 or more (AAP 2017 counts visits in that range).
    raised_occasions: int = 0

    @property
    def stage(self) -> int:
        """0 below 130/80, 1 for 130-139 or 80-89, 2 from 140 or 90 (ACC/AHA 2017)."""
        sbp, dbp = self.systolic.value or 0.0, self.diastolic.value or 0.0
        return blood_pressure_category(sbp, dbp).hypertension_stage

    @property
    def above_treated_goal(self) -> bool:
        """Whether the mean is at or above the treatment goal of 130/80 (ACC/AHA 2017)."""
        return above_treated_goal(self.systolic.value or 0.0, self.diastolic.value or 0.0)

    @property
    def confirmed(self) -> bool:
        """Whether the readings span the two occasions a diagnosis rests on."""
        return self.occasions >= BLOOD_PRESSURE_OCCASIONS

    @property
    def adolescent_confirmed(self) -> bool:
        """Whether 3 visits were in the hypertensive range, as AAP 2017 diagnoses (13-17)."""
        return self.raised_occasions >= ADOLESCENT_HYPERTENSION_VISITS


@dataclass(frozen=True)
class TreatmentWindow:
    """Which readings speak of the current treatment: those after it began."""

    # Readings after this day count (the day itself is taken as before treatment).
    since: date
    # The earliest recorded start (order date) of the current antihypertensives; None when none
    # is recorded, and `since` is then the last 3 months.
    started: date | None
    # Readings of the last year taken on or before `since`: not counted in the mean.
    before: tuple[BloodPressureReading, ...]


def _complete(reading: BloodPressureReading) -> bool:
    return (
        reading.systolic is not None
        and reading.diastolic is not None
        and reading.diastolic >= MIN_PLAUSIBLE_DIASTOLIC
    )


def _raised_days(readings: list[BloodPressureReading]) -> int:
    by_day: dict[date, list[BloodPressureReading]] = {}
    for reading in readings:
        if _complete(reading):
            by_day.setdefault(reading.effective.date(), []).append(reading)
    return sum(
        blood_pressure_category(
            fmean(r.systolic or 0.0 for r in day), fmean(r.diastolic or 0.0 for r in day)
        ).hypertension_stage
        > 0
        for day in by_day.values()
    )


def _mean(record: PatientRecord, part: str, after: date) -> FeatureValue:
    values = [
        (reading, value)
        for reading in record.office_blood_pressure
        if reading.effective.date() > after
        and (value := getattr(reading, part)) is not None
        and (part != "diastolic" or value >= MIN_PLAUSIBLE_DIASTOLIC)
    ]
    if not values:
        return FeatureValue(part, None)
    sources = tuple(source for reading, _ in values for source in reading.sources)
    count = f"{len(values)} reading{'s' if len(values) > 1 else ''}"
    return FeatureValue(
        part,
        fmean(value for _, value in values),
        tuple(dict.fromkeys(sources)),
        values[0][0].effective.date(),
        f"mean of {count} since {after.isoformat()}",
    )


def pressure_summary(
    record: PatientRecord, treatment: TreatmentWindow | None = None
) -> PressureSummary | None:
    """The mean pressure of the last year (or since treatment began) and on how many days it
    was taken; None if unmeasured."""
    since = record.as_of - BLOOD_PRESSURE_WINDOW
    if treatment is None:
        systolic, diastolic = SYSTOLIC.extract(record), DIASTOLIC.extract(record)
        readings = [r for r in record.office_blood_pressure if r.effective.date() >= since]
    else:
        systolic = _mean(record, "systolic", treatment.since)
        diastolic = _mean(record, "diastolic", treatment.since)
        readings = [r for r in record.office_blood_pressure if r.effective.date() > treatment.since]
    if systolic.value is None or diastolic.value is None:
        return None
    days = {reading.effective.date() for reading in readings}
    return PressureSummary(systolic, diastolic, len(days), _raised_days(readings))


def treatment_window(record: PatientRecord) -> TreatmentWindow:
    """The readings that speak of the current antihypertensive treatment (ACC/AHA 2017)."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    starts = [
        item.authored
        for item in record.medications
        if item.drug_class is DrugClass.ANTIHYPERTENSIVE and item.authored is not None
    ]
    started = min(starts) if starts else None
    fallback = record.as_of - timedelta(days=30 * TREATED_READINGS_MONTHS_WHEN_START_UNKNOWN)
    # `since` is exclusive: the day before the window so its first day still counts.
    since = max(started or fallback, year_ago - timedelta(days=1))
    before = tuple(
        reading
        for reading in record.office_blood_pressure
        if year_ago <= reading.effective.date() <= since and _complete(reading)
    )
    return TreatmentWindow(since, started, before)


@dataclass(frozen=True)
class VisitPressure:
    """The latest day's mean pressure in the last year: how a screening reads a visit."""

    day: date
    systolic: float
    diastolic: float
    readings: int
    sources: tuple[str, ...]


def latest_visit(record: PatientRecord) -> VisitPressure | None:
    """The mean of the latest day's complete readings in the last year; None if unmeasured."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    recent = [
        r for r in record.office_blood_pressure if r.effective.date() >= year_ago and _complete(r)
    ]
    if not recent:
        return None
    day = recent[0].effective.date()
    that_day = [r for r in recent if r.effective.date() == day]
    return VisitPressure(
        day,
        fmean(r.systolic or 0.0 for r in that_day),
        fmean(r.diastolic or 0.0 for r in that_day),
        len(that_day),
        tuple(dict.fromkeys(source for r in that_day for source in r.sources)),
    )


def _birthday(born: date, years: int) -> date:
    """The day one turns `years` (1 March for 29 February in a common year)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return date(born.year + years, 3, 1)


def earlier_readings(record: PatientRecord) -> tuple[BloodPressureReading, ...]:
    """The complete readings older than the 12-month window, from the last 10 years and from
    adulthood (18 and over, when the birth date is known), newest first."""
    year_ago = record.as_of - BLOOD_PRESSURE_WINDOW
    since = record.as_of - timedelta(days=round(EARLIER_READINGS_YEARS * 365.25))
    born = record.demographics.birth_date
    if born is not None:
        since = max(since, _birthday(born, ADULT_AGE))
    return tuple(
        reading
        for reading in record.office_blood_pressure
        if since <= reading.effective.date() < year_ago and _complete(reading)
    )
