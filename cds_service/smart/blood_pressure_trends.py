"""The detail page's blood pressure: its charts, its readings table, and the home series.

Which guideline names a reading's category depends on the patient at the time of the reading:
adults, ACC/AHA 2017; ages 13-17, AAP 2017 (the same numbers, another guideline's words);
under 13 no category at all (AAP 2017 reads a child's pressure by percentiles for age, sex
and height, which the page does not compute); in pregnancy ACOG's thresholds (140/90 or more
the hypertensive range, 160/110 or more severe), not the adult stages. The charts' bands
follow the patient as of the chart's date.

Home readings (`MeasurementSetting.HOME`) are drawn apart from office readings, with their own
bands (ACC/AHA 2017, Table 11), and for adults the latest series' mean and the home thresholds
(130/80, and 135/85 = office 140/90) as lines; the series itself is described as
`models.home_blood_pressure` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from cards.home_blood_pressure import mean_text
from cds_service.smart.chart_geometry import (
    HIGH,
    HIGHER,
    NORMAL,
    WATCH,
    ChartKind,
    Dated,
    Reference,
    TrendChart,
    band_of,
    bands_between,
    chart,
)
from fhir_adapters.patient_record import BloodPressureReading, MeasurementSetting, PatientRecord
from models.criteria import (
    ADOLESCENT_AGE,
    ADULT_AGE,
    ELEVATED_SYSTOLIC,
    HOME_ELEVATED_SYSTOLIC,
    HOME_STAGE1_DIASTOLIC,
    HOME_STAGE1_SYSTOLIC,
    HOME_STAGE2_DIASTOLIC,
    HOME_STAGE2_SYSTOLIC,
    PREGNANCY_HYPERTENSION_DIASTOLIC,
    PREGNANCY_HYPERTENSION_SYSTOLIC,
    PREGNANCY_SEVERE_DIASTOLIC,
    PREGNANCY_SEVERE_SYSTOLIC,
    STAGE1_DIASTOLIC,
    STAGE1_SYSTOLIC,
    STAGE2_DIASTOLIC,
    STAGE2_SYSTOLIC,
    BloodPressureCategory,
    blood_pressure_category,
)
from models.home_blood_pressure import HomeAssessment, HomeFinding, assess_home_blood_pressure
from models.pregnancy import PREGNANCY_WINDOW, current_pregnancy

_ADULT_NAMES = (("Normal", NORMAL), ("Elevated", WATCH), ("Stage 1", HIGH), ("Stage 2", HIGHER))
SYSTOLIC_BANDS = bands_between(
    (ELEVATED_SYSTOLIC, STAGE1_SYSTOLIC, STAGE2_SYSTOLIC), _ADULT_NAMES, 1.0
)
DIASTOLIC_BANDS = bands_between(
    (STAGE1_DIASTOLIC, STAGE2_DIASTOLIC),
    (("Normal", NORMAL), ("Stage 1", HIGH), ("Stage 2", HIGHER)),
    1.0,
)
# Home readings' ranges, named for the office ranges they correspond to (Table 11).
HOME_SYSTOLIC_BANDS = bands_between(
    (HOME_ELEVATED_SYSTOLIC, HOME_STAGE1_SYSTOLIC, HOME_STAGE2_SYSTOLIC),
    (("Home normal", NORMAL), ("Home elevated", WATCH), ("Home, as stage 1", HIGH),
     ("Home, as stage 2", HIGHER)),
    1.0,
)  # fmt: skip
HOME_DIASTOLIC_BANDS = bands_between(
    (HOME_STAGE1_DIASTOLIC, HOME_STAGE2_DIASTOLIC),
    (("Home normal", NORMAL), ("Home, as stage 1", HIGH), ("Home, as stage 2", HIGHER)),
    1.0,
)
_PREGNANCY_NAMES = (("Below", NORMAL), ("Hypertensive", HIGH), ("Severe", HIGHER))
PREGNANCY_SYSTOLIC_BANDS = bands_between(
    (PREGNANCY_HYPERTENSION_SYSTOLIC, PREGNANCY_SEVERE_SYSTOLIC), _PREGNANCY_NAMES, 1.0
)
PREGNANCY_DIASTOLIC_BANDS = bands_between(
    (PREGNANCY_HYPERTENSION_DIASTOLIC, PREGNANCY_SEVERE_DIASTOLIC), _PREGNANCY_NAMES, 1.0
)
_TONES = (NORMAL, WATCH, HIGH, HIGHER)
# How the table names a reading's category.
CATEGORY_WORDS = {
    BloodPressureCategory.NORMAL: "Normal",
    BloodPressureCategory.ELEVATED: "Elevated",
    BloodPressureCategory.STAGE_1: "Stage 1 hypertension range",
    BloodPressureCategory.STAGE_2: "Stage 2 hypertension range",
}
SETTING_WORDS = {
    MeasurementSetting.HOME: "Home",
    MeasurementSetting.AMBULATORY: "Ambulatory",
    MeasurementSetting.NOT_STATED: "Office or not stated",
}
RAISED_IN_PREGNANCY = f"{PREGNANCY_HYPERTENSION_SYSTOLIC:g}/{PREGNANCY_HYPERTENSION_DIASTOLIC:g}"
SEVERE_IN_PREGNANCY = f"{PREGNANCY_SEVERE_SYSTOLIC:g}/{PREGNANCY_SEVERE_DIASTOLIC:g}"
HOME_130_80 = f"{HOME_STAGE1_SYSTOLIC:g}/{HOME_STAGE1_DIASTOLIC:g}"
HOME_135_85 = f"{HOME_STAGE2_SYSTOLIC:g}/{HOME_STAGE2_DIASTOLIC:g}"
CHILD_WORDS = (
    f"No adult category under {ADOLESCENT_AGE}: AAP 2017 reads it by percentiles for age, sex "
    "and height"
)


class Reader(StrEnum):
    """Whose categories read a reading."""

    ADULT = "adult"  # ACC/AHA 2017
    ADOLESCENT = "adolescent"  # AAP 2017, 13-17: the adult numbers
    CHILD = "child"  # under 13: AAP 2017's percentiles, not computed here
    PREGNANCY = "pregnancy"  # ACOG Practice Bulletin 222


NOTES = {
    Reader.ADULT: "blood pressure, ACC/AHA 2017 adult categories",
    Reader.ADOLESCENT: f"blood pressure, AAP 2017 categories for ages {ADOLESCENT_AGE}-"
    f"{ADULT_AGE - 1} (the same numbers as the adult ones, another guideline)",
    Reader.CHILD: f"blood pressure, no category bands: under {ADOLESCENT_AGE}, AAP 2017 reads a "
    "child's blood pressure by percentiles for age, sex and height, which this page does not "
    "compute, and the adult categories do not apply",
    Reader.PREGNANCY: f"blood pressure in pregnancy, ACOG ({RAISED_IN_PREGNANCY} or more the "
    f"hypertensive range, {SEVERE_IN_PREGNANCY} or more severe), not the adult stages",
}


def _age_on(record: PatientRecord, day: date) -> int | None:
    born = record.demographics.birth_date
    if born is None:
        return record.demographics.age_years
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def reader_on(record: PatientRecord, day: date) -> Reader:
    """Whose categories read a reading taken on `day`: pregnancy's, a child's, or an adult's."""
    pregnancy = current_pregnancy(record)
    if pregnancy is not None:
        began = pregnancy.onset or record.as_of - PREGNANCY_WINDOW
        if day >= began:
            return Reader.PREGNANCY
    age = _age_on(record, day)
    if age is not None and age < ADOLESCENT_AGE:
        return Reader.CHILD
    if age is not None and age < ADULT_AGE:
        return Reader.ADOLESCENT
    return Reader.ADULT


def reading_category(
    systolic: float | None,
    diastolic: float | None,
    reader: Reader = Reader.ADULT,
    home: bool = False,
) -> str:
    """A reading's category in words, from both numbers, as the guideline that applies names it."""
    if systolic is None or diastolic is None:
        return "incomplete reading"
    if reader is Reader.CHILD:
        return CHILD_WORDS
    if reader is Reader.PREGNANCY:
        if systolic >= PREGNANCY_SEVERE_SYSTOLIC or diastolic >= PREGNANCY_SEVERE_DIASTOLIC:
            return f"Severe range in pregnancy (ACOG: {SEVERE_IN_PREGNANCY} or more)"
        if systolic >= PREGNANCY_HYPERTENSION_SYSTOLIC or (
            diastolic >= PREGNANCY_HYPERTENSION_DIASTOLIC
        ):
            return f"Hypertensive range in pregnancy (ACOG: {RAISED_IN_PREGNANCY} or more)"
        return f"Below {RAISED_IN_PREGNANCY} (ACOG, in pregnancy)"
    if home and reader is Reader.ADOLESCENT:
        return f"Home reading (no home thresholds under {ADULT_AGE}: AAP 2017)"
    if home:
        bands = (band_of(systolic, HOME_SYSTOLIC_BANDS), band_of(diastolic, HOME_DIASTOLIC_BANDS))
        worse = max((band for band in bands if band), key=lambda band: _TONES.index(band.tone))
        return f"{worse.short} (one home reading; the series mean is what is read)"
    words = CATEGORY_WORDS[blood_pressure_category(systolic, diastolic)]
    return f"{words} (AAP 2017, ages 13-17)" if reader is Reader.ADOLESCENT else words


@dataclass(frozen=True)
class BloodPressureRow:
    """A reading for the table, with its category as the guideline that applies names it."""

    effective: datetime
    systolic: float | None
    diastolic: float | None
    category: str
    setting: str
    sources: tuple[str, ...]
    home: bool = False


@dataclass(frozen=True)
class HomeSeriesView:
    """The home series as the page says it: lines of plain words."""

    lines: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class BloodPressureTrends:
    """The two blood pressure charts, the readings as rows, and the home series."""

    systolic: TrendChart
    diastolic: TrendChart
    rows: tuple[BloodPressureRow, ...]
    reader: Reader
    note: str
    home: HomeSeriesView | None


SYSTOLIC = ChartKind("systolic", "Systolic blood pressure", "mmHg", 0, SYSTOLIC_BANDS)
DIASTOLIC = ChartKind("diastolic", "Diastolic blood pressure", "mmHg", 0, DIASTOLIC_BANDS)
# The home thresholds drawn as lines: 130/80 (= office 130/80) and 135/85 (= office 140/90).
_SYSTOLIC_THRESHOLDS = (HOME_STAGE1_SYSTOLIC, HOME_STAGE2_SYSTOLIC)
_DIASTOLIC_THRESHOLDS = (HOME_STAGE1_DIASTOLIC, HOME_STAGE2_DIASTOLIC)
_BANDS = {
    Reader.ADULT: (SYSTOLIC_BANDS, DIASTOLIC_BANDS),
    Reader.ADOLESCENT: (SYSTOLIC_BANDS, DIASTOLIC_BANDS),
    Reader.CHILD: ((), ()),
    Reader.PREGNANCY: (PREGNANCY_SYSTOLIC_BANDS, PREGNANCY_DIASTOLIC_BANDS),
}

FINDING_WORDS = {
    HomeFinding.WHITE_COAT: "White-coat hypertension: office mean 130/80 or more, home mean "
    "below 130/80 (ACC/AHA 2017, Figure 2).",
    HomeFinding.MASKED: "Masked hypertension: office mean below 130/80, home mean 130/80 or "
    "more (ACC/AHA 2017, Figure 2).",
    HomeFinding.SUSTAINED: "Sustained: home and office means both 130/80 or more.",
    HomeFinding.WHITE_COAT_EFFECT: "White-coat effect: office mean above the 130/80 goal, home "
    "mean at goal (ACC/AHA 2017, Figure 3).",
    HomeFinding.MASKED_UNCONTROLLED: "Masked uncontrolled hypertension: office mean at the "
    "130/80 goal, home mean above it (ACC/AHA 2017, Figure 3).",
    HomeFinding.UNCONTROLLED: "Home and office means both above the 130/80 goal.",
    HomeFinding.CONCORDANT_BELOW: "Home and office means both below 130/80.",
    HomeFinding.HOME_ONLY: "No office reading in the last year to set beside it.",
    HomeFinding.CHILD: f"Not read against adult home thresholds under {ADULT_AGE} (AAP 2017 "
    "does not diagnose from home readings).",
    HomeFinding.PREGNANT: "In pregnancy ACOG's thresholds apply, not the home thresholds.",
}


def _home_view(assessment: HomeAssessment) -> HomeSeriesView | None:
    series = assessment.series
    if series is None:
        words = FINDING_WORDS.get(assessment.finding)
        return None if words is None else HomeSeriesView((words,), False)
    mean = series.mean
    lines = [
        f"Latest series: mean {mean_text(mean)} from {mean.readings} readings on {mean.days} day"
        f"{'s' if mean.days != 1 else ''}, {mean.first_day.isoformat()} to "
        f"{mean.last_day.isoformat()} ({series.morning_readings} morning, "
        f"{series.evening_readings} evening)."
    ]
    if series.discarded_day is not None:
        lines.append(
            f"The first day of monitoring ({series.discarded_day.isoformat()}, "
            f"{series.discarded_readings} readings) is left out, as the protocol asks."
        )
    if series.missing:
        lines.append(
            f"Not yet a series: it needs {', '.join(series.missing)}. The mean so far is not "
            f"read against {HOME_130_80}."
        )
    else:
        lines.append(
            f"Home thresholds (ACC/AHA 2017, Table 11): home {HOME_130_80} = office "
            f"{HOME_130_80}; home {HOME_135_85} = office {STAGE2_SYSTOLIC:g}/{STAGE2_DIASTOLIC:g}."
        )
    if assessment.office is not None:
        lines.append(
            f"Office mean in the last year: {mean_text(assessment.office)} "
            f"({assessment.office.readings} readings)."
        )
    if (words := FINDING_WORDS.get(assessment.finding)) is not None:
        lines.append(words)
    return HomeSeriesView(tuple(lines), series.complete)


def _dated(readings: list[BloodPressureReading], part: str) -> list[Dated]:
    once: dict[tuple[datetime, float], Dated] = {}
    for r in readings:
        value = getattr(r, part)
        if value:
            once.setdefault((r.effective, value), (r.effective, value, _first(r), False))
    return sorted(once.values())


def _first(reading: BloodPressureReading) -> str:
    return reading.sources[0] if reading.sources else ""


def blood_pressure_trends(record: PatientRecord, since: date) -> BloodPressureTrends:
    """The blood pressure charts and rows from `since` to the record's date."""
    readings = [r for r in record.blood_pressure if r.effective.date() >= since]
    office = [r for r in readings if r.setting is not MeasurementSetting.HOME]
    home = [r for r in readings if r.setting is MeasurementSetting.HOME]
    reader = reader_on(record, record.as_of)
    assessment = assess_home_blood_pressure(record)
    adult = reader is Reader.ADULT and assessment.series is not None
    charts = []
    for kind, bands, home_bands, part, thresholds in (
        (SYSTOLIC, _BANDS[reader][0], HOME_SYSTOLIC_BANDS, "systolic", _SYSTOLIC_THRESHOLDS),
        (DIASTOLIC, _BANDS[reader][1], HOME_DIASTOLIC_BANDS, "diastolic", _DIASTOLIC_THRESHOLDS),
    ):
        references = []
        series = assessment.series
        if adult and series is not None and series.mean.first_day >= since:
            if series.complete:
                mean = getattr(series.mean, part)
                references.append(
                    Reference(
                        f"Home mean {mean:.0f} (latest series)",
                        round(mean, 1),
                        "home-mean",
                        series.mean.first_day,
                        series.mean.last_day,
                    )
                )
            references += [
                Reference(f"Home threshold {value:g}", value, "home-threshold")
                for value in thresholds
            ]
        charts.append(
            chart(
                ChartKind(kind.key, kind.title, kind.unit, kind.decimals, bands),
                _dated(office, part),
                since,
                record.as_of,
                home=_dated(home, part),
                home_bands=home_bands if reader is Reader.ADULT else (),
                references=references,
            )
        )
    rows = tuple(
        BloodPressureRow(
            r.effective,
            r.systolic,
            r.diastolic,
            reading_category(
                r.systolic,
                r.diastolic,
                reader_on(record, r.effective.date()),
                r.setting is MeasurementSetting.HOME,
            ),
            SETTING_WORDS[r.setting],
            r.sources,
            r.setting is MeasurementSetting.HOME,
        )
        for r in sorted(readings, key=lambda r: r.effective, reverse=True)
    )
    view = _home_view(assessment) if home else None
    return BloodPressureTrends(charts[0], charts[1], rows, reader, NOTES[reader], view)
