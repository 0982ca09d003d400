"""Home blood pressure: the series as ACC/AHA 2017 reads it, and its agreement with the office.

Home readings (the adapter's `MeasurementSetting.HOME`: taken by the patient, by a personal
device, or recorded as self-measured) are read as a series, never one by one (ACC/AHA 2017,
section 4.2, Table 12): the readings of the latest week of monitoring, the first day of
monitoring left out (its readings run high), averaged. A series too short to read says what
it lacks. The mean is read against the home values that correspond to the office ones (Table
11) and set beside the office mean of the same year:

- office 130/80 or more, home below: white-coat hypertension (Figure 2), or on treatment the
  white-coat effect (Figure 3);
- office below 130/80, home at or above: masked hypertension, or on treatment masked
  uncontrolled hypertension;
- both at or above: sustained (the home readings confirm the office ones); both below: nothing
  to add.

Morning and evening, and the day a reading belongs to, are read from its time as recorded, with
the offset the device or EHR gave it: a reading stored in UTC without the patient's offset may
fall on the other side of noon or midnight.

With known hypertension (treated, or diagnosed) the 130/80 is the goal (ACC/AHA 2017, section
8.1.5) and the Figure 3 words apply. Not for children (AAP 2017 does not diagnose from home
readings) or pregnancy (ACOG's thresholds, `models.pregnancy`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from statistics import fmean

from fhir_adapters.codes import ConditionKind, DrugClass
from fhir_adapters.patient_record import BloodPressureReading, MeasurementSetting, PatientRecord
from models.criteria import (
    ADULT_AGE,
    HOME_EVENING_FROM_HOUR,
    HOME_SERIES_DAYS,
    HOME_SERIES_MIN_DAYS,
    HOME_SERIES_MIN_READINGS,
    HOME_STAGE1_DIASTOLIC,
    HOME_STAGE1_SYSTOLIC,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    BloodPressureCategory,
    blood_pressure_category,
    home_blood_pressure_category,
)
from models.features import BLOOD_PRESSURE_WINDOW
from models.pregnancy import current_pregnancy

# A series still under way: an incomplete one is worth a word only while the patient may still
# be measuring. Not a guideline's figure: a fortnight after the latest reading, an unfinished
# series is taken as abandoned and the card stays silent.
INCOMPLETE_SERIES_RECENT_DAYS = 14


class HomeFinding(StrEnum):
    """What the home series says beside the office readings, or why it is not read."""

    WHITE_COAT = "white-coat"  # office >= 130/80, home below (untreated)
    MASKED = "masked"  # office below 130/80, home at or above (untreated)
    SUSTAINED = "sustained"  # both at or above: home confirms the office
    # Known hypertension (treated or diagnosed), read against the 130/80 goal (Figure 3):
    WHITE_COAT_EFFECT = "white-coat-effect"  # office above goal, home at goal
    MASKED_UNCONTROLLED = "masked-uncontrolled"  # office at goal, home above
    UNCONTROLLED = "uncontrolled"  # both above goal
    CONCORDANT_BELOW = "concordant-below"  # both below 130/80: nothing to add
    HOME_ONLY = "home-only"  # a series but no office reading in the year
    INCOMPLETE = "incomplete"  # home readings that are not yet a series, taken lately
    ABANDONED = "abandoned"  # an incomplete series whose latest reading is not recent
    NO_HOME_READINGS = "no-home-readings"
    CHILD = "child"  # under 18: AAP 2017 does not diagnose from home readings
    PREGNANT = "pregnant"  # ACOG's thresholds apply, not these


@dataclass(frozen=True)
class MeanPressure:
    """A mean of readings, how many there were, on how many days, and where they came from."""

    systolic: float
    diastolic: float
    readings: int
    days: int
    first_day: date
    last_day: date
    sources: tuple[str, ...]

    @property
    def at_or_above_130_80(self) -> bool:
        """Whether the mean is 130/80 or more (the same cut-off at home and in the office)."""
        return self.systolic >= STAGE1_SYSTOLIC or self.diastolic >= STAGE1_DIASTOLIC


@dataclass(frozen=True)
class HomeSeries:
    """The latest week of home monitoring as read: its mean, and what it lacks to be read."""

    mean: MeanPressure
    morning_readings: int
    evening_readings: int
    # The first day of monitoring, left out of the mean (None when the week is not its start).
    discarded_day: date | None
    discarded_readings: int
    # What the series lacks to be read ("4 more readings", "readings in the evening"); empty
    # when complete.
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether the series holds the minimum a home mean is read from."""
        return not self.missing

    @property
    def category(self) -> BloodPressureCategory:
        """The office category the home mean corresponds to (ACC/AHA 2017, Table 11)."""
        return home_blood_pressure_category(self.mean.systolic, self.mean.diastolic)

    @property
    def at_or_above_130_80(self) -> bool:
        """Whether the home mean is 130/80 or more (home 130/80 = office 130/80)."""
        return (
            self.mean.systolic >= HOME_STAGE1_SYSTOLIC
            or self.mean.diastolic >= HOME_STAGE1_DIASTOLIC
        )


@dataclass(frozen=True)
class HomeAssessment:
    """The home series and the office mean beside it, and what the two say together."""

    finding: HomeFinding
    series: HomeSeries | None = None
    office: MeanPressure | None = None
    treated: bool = False
    diagnosed: bool = False

    @property
    def known_hypertension(self) -> bool:
        """Whether hypertension is treated or diagnosed: the 130/80 is then a goal."""
        return self.treated or self.diagnosed

    @property
    def office_category(self) -> BloodPressureCategory | None:
        """The office mean's ACC/AHA 2017 category."""
        if self.office is None:
            return None
        return blood_pressure_category(self.office.systolic, self.office.diastolic)


def _complete(reading: BloodPressureReading) -> bool:
    return reading.systolic is not None and reading.diastolic is not None


def _mean(readings: list[BloodPressureReading]) -> MeanPressure:
    days = sorted({reading.effective.date() for reading in readings})
    sources = tuple(dict.fromkeys(s for reading in readings for s in reading.sources))
    return MeanPressure(
        systolic=fmean(reading.systolic or 0.0 for reading in readings),
        diastolic=fmean(reading.diastolic or 0.0 for reading in readings),
        readings=len(readings),
        days=len(days),
        first_day=days[0],
        last_day=days[-1],
        sources=sources,
    )


def office_mean(record: PatientRecord) -> MeanPressure | None:
    """The mean of the last year's office readings (neither home nor ambulatory), or None."""
    since = record.as_of - BLOOD_PRESSURE_WINDOW
    office = [
        reading
        for reading in record.blood_pressure
        if reading.setting is MeasurementSetting.NOT_STATED
        and reading.effective.date() >= since
        and _complete(reading)
    ]
    return _mean(office) if office else None


def home_series(record: PatientRecord) -> HomeSeries | None:
    """The latest week of home readings in the last year, read as a series; None if there are
    none."""
    since = record.as_of - BLOOD_PRESSURE_WINDOW
    home = [
        reading
        for reading in record.blood_pressure
        if reading.setting is MeasurementSetting.HOME
        and since <= reading.effective.date() <= record.as_of
        and _complete(reading)
    ]
    if not home:
        return None
    home_days = {reading.effective.date() for reading in home}
    last_day = max(home_days)
    first_day = last_day - timedelta(days=HOME_SERIES_DAYS - 1)
    week = [reading for reading in home if reading.effective.date() >= first_day]
    start = min(reading.effective.date() for reading in week)
    # The first day of monitoring reads high and is left out (ESH; the reference's protocol),
    # but only when it is the start of monitoring and other days remain.
    started_here = start - timedelta(days=1) not in home_days
    discarded = [r for r in week if r.effective.date() == start] if started_here else []
    if len({r.effective.date() for r in week}) == 1:
        discarded = []
    counted = [reading for reading in week if reading not in discarded]
    mean = _mean(counted)
    mornings = sum(1 for r in counted if r.effective.hour < HOME_EVENING_FROM_HOUR)
    evenings = len(counted) - mornings
    missing = []
    if mean.readings < HOME_SERIES_MIN_READINGS:
        more = HOME_SERIES_MIN_READINGS - mean.readings
        missing.append(f"{more} more reading{'s' if more > 1 else ''}")
    if mean.days < HOME_SERIES_MIN_DAYS:
        more = HOME_SERIES_MIN_DAYS - mean.days
        missing.append(f"readings on {more} more day{'s' if more > 1 else ''}")
    if not mornings:
        missing.append("morning readings")
    if not evenings:
        missing.append("evening readings")
    return HomeSeries(
        mean=mean,
        morning_readings=mornings,
        evening_readings=evenings,
        discarded_day=start if discarded else None,
        discarded_readings=len(discarded),
        missing=tuple(missing),
    )


def _discordance(home_raised: bool, office_raised: bool, known: bool) -> HomeFinding:
    if home_raised and office_raised:
        return HomeFinding.UNCONTROLLED if known else HomeFinding.SUSTAINED
    if office_raised:
        return HomeFinding.WHITE_COAT_EFFECT if known else HomeFinding.WHITE_COAT
    if home_raised:
        return HomeFinding.MASKED_UNCONTROLLED if known else HomeFinding.MASKED
    return HomeFinding.CONCORDANT_BELOW


def assess_home_blood_pressure(record: PatientRecord) -> HomeAssessment:
    """What the patient's home readings say beside the office ones, or why they are not read."""
    if current_pregnancy(record) is not None:
        return HomeAssessment(HomeFinding.PREGNANT)
    age = record.demographics.age_years
    if age is not None and age < ADULT_AGE:
        return HomeAssessment(HomeFinding.CHILD)
    series = home_series(record)
    if series is None:
        return HomeAssessment(HomeFinding.NO_HOME_READINGS)
    treated = record.takes(DrugClass.ANTIHYPERTENSIVE)
    diagnosed = record.has_condition(ConditionKind.HYPERTENSION)
    office = office_mean(record)
    if not series.complete:
        recent = series.mean.last_day >= record.as_of - timedelta(INCOMPLETE_SERIES_RECENT_DAYS)
        finding = HomeFinding.INCOMPLETE if recent else HomeFinding.ABANDONED
        return HomeAssessment(finding, series, office, treated, diagnosed)
    if office is None:
        return HomeAssessment(HomeFinding.HOME_ONLY, series, None, treated, diagnosed)
    known = treated or diagnosed
    finding = _discordance(series.at_or_above_130_80, office.at_or_above_130_80, known)
    return HomeAssessment(finding, series, office, treated, diagnosed)
