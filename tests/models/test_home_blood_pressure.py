"""Home blood pressure read as ACC/AHA 2017 reads it (section 4.2, Tables 11 and 12, Figures 2
and 3), from charts written as FHIR resources and read by the real adapter.

- A series: the latest week of home readings, the first day of monitoring left out (ESH,
  Parati 2010), at least 12 readings on 3 days, mornings and evenings; averaged.
- Home 130/80 corresponds to office 130/80, home 135/85 to office 140/90 (Table 11).
- Office 130/80 or more with home below: white-coat hypertension; office below with home at
  or above: masked hypertension (Figure 2); on treatment, white-coat effect and masked
  uncontrolled hypertension (Figure 3).
"""

from __future__ import annotations

from typing import Any

import pytest
from fhir_charts import blood_pressure, chart, icd10_condition, medication, pregnancy
from home_bp_charts import EVENING, MARKINGS, MORNING, home_reading, home_week

from fhir_adapters.patient_record import MeasurementSetting
from models.criteria import BloodPressureCategory, home_blood_pressure_category
from models.features import SYSTOLIC
from models.home_blood_pressure import (
    HomeFinding,
    assess_home_blood_pressure,
    home_series,
    office_mean,
)
from models.hypertension_readings import pressure_summary

OFFICE_RAISED = (blood_pressure(142, 88, days=20), blood_pressure(142, 88, days=50))
OFFICE_NORMAL = (blood_pressure(124, 76, days=20), blood_pressure(124, 76, days=50))
AMLODIPINE = medication("amlodipine 5 MG Oral Tablet")


# --- The adapter: which readings are home readings ---------------------------------------------


@pytest.mark.parametrize("marking", MARKINGS.values(), ids=MARKINGS.keys())
def test_each_way_a_home_reading_is_marked_is_read_as_home(marking: dict[str, Any]) -> None:
    record = chart(home_reading(128, 78, days=3, marking=marking))
    (reading,) = record.blood_pressure
    assert reading.setting is MeasurementSetting.HOME


@pytest.mark.parametrize(
    "marking",
    [
        {},
        {"performer": [{"reference": "Practitioner/pr1"}]},
        {"device": {"display": "Welch Allyn Connex vital signs monitor"}},
        {
            "meta": {
                "profile": [
                    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"
                ]
            }
        },
    ],
    ids=["plain panel", "by a practitioner", "clinic device", "US Core profile only"],
)
def test_an_office_reading_stays_unstated(marking: dict[str, Any]) -> None:
    record = chart(home_reading(128, 78, days=3, marking=marking))
    assert record.blood_pressure[0].setting is MeasurementSetting.NOT_STATED


def test_ambulatory_readings_are_not_home_readings() -> None:
    record = chart(home_reading(128, 78, 3, marking={"method": {"text": "24-hour ambulatory"}}))
    assert record.blood_pressure[0].setting is MeasurementSetting.AMBULATORY


# --- The series (Table 12) ----------------------------------------------------------------------


def test_a_week_twice_morning_and_evening_leaves_out_the_first_day() -> None:
    series = home_series(chart(*home_week(124, 76)))
    assert series is not None
    # 7 days x 2 sessions x 2 readings = 28; the first day's 4 left out.
    assert (series.mean.readings, series.mean.days) == (24, 6)
    assert (series.morning_readings, series.evening_readings) == (12, 12)
    assert series.discarded_readings == 4
    assert series.complete
    assert (round(series.mean.systolic), round(series.mean.diastolic)) == (124, 76)


def test_the_first_day_is_kept_when_the_week_is_not_the_start_of_monitoring() -> None:
    # Monitoring over 10 days: the latest week's first day is the 4th day of monitoring.
    series = home_series(chart(*home_week(124, 76, days=range(10, 0, -1))))
    assert series is not None
    assert series.discarded_day is None
    assert (series.mean.readings, series.mean.days) == (28, 7)


def test_only_the_latest_week_is_averaged() -> None:
    older = home_week(150, 95, days=range(60, 53, -1))
    series = home_series(chart(*older, *home_week(124, 76)))
    assert series is not None
    assert round(series.mean.systolic) == 124


@pytest.mark.parametrize(
    ("days", "hours", "per_session", "missing"),
    [
        # 4 days, twice morning and evening: day 1 left out, 12 readings on 3 days: enough.
        (range(4, 0, -1), (MORNING, EVENING), 2, ()),
        # 3 days: 8 readings on 2 days after the first.
        (range(3, 0, -1), (MORNING, EVENING), 2, ("4 more readings", "readings on 1 more day")),
        # Mornings only, a week: enough readings and days, no evening.
        (range(7, 0, -1), (MORNING,), 2, ("evening readings",)),
        # Once a session for 7 days: 12 readings on 6 days, enough.
        (range(7, 0, -1), (MORNING, EVENING), 1, ()),
        # Once a session for 6 days: 10 readings.
        (range(6, 0, -1), (MORNING, EVENING), 1, ("2 more readings",)),
    ],
)
def test_a_series_needs_12_readings_on_3_days_mornings_and_evenings(
    days: range, hours: tuple[int, ...], per_session: int, missing: tuple[str, ...]
) -> None:
    series = home_series(chart(*home_week(124, 76, days, hours, per_session)))
    assert series is not None
    assert series.missing == missing
    assert series.complete is (not missing)


def test_office_mean_leaves_out_home_readings() -> None:
    record = chart(*OFFICE_RAISED, *home_week(124, 76))
    office = office_mean(record)
    assert office is not None
    assert (office.systolic, office.diastolic, office.readings) == (142, 88, 2)


def test_the_office_assessment_and_the_models_read_office_readings_only() -> None:
    # Masked hypertension (office 124/76, home 140/88) must not become an office detection, nor a
    # white-coat effect a treated mean at goal: ACC/AHA 2017 reads each against its own cut-offs.
    record = chart(*OFFICE_NORMAL, *home_week(140, 88))
    summary = pressure_summary(record)
    assert summary is not None
    assert (summary.systolic.value, summary.diastolic.value, summary.occasions) == (124, 76, 2)
    assert SYSTOLIC.extract(record).value == 124  # the learned models' input
    assert all(r.setting is MeasurementSetting.NOT_STATED for r in record.office_blood_pressure)
    assert len(record.blood_pressure) > len(record.office_blood_pressure)


# --- The home thresholds (Table 11) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("systolic", "diastolic", "category"),
    [
        (119, 79, BloodPressureCategory.NORMAL),
        (120, 79, BloodPressureCategory.ELEVATED),  # home 120/80 = office 120/80
        (129, 79, BloodPressureCategory.ELEVATED),
        (130, 79, BloodPressureCategory.STAGE_1),  # home 130/80 = office 130/80
        (129, 80, BloodPressureCategory.STAGE_1),
        (134, 84, BloodPressureCategory.STAGE_1),
        (135, 84, BloodPressureCategory.STAGE_2),  # home 135/85 = office 140/90
        (134, 85, BloodPressureCategory.STAGE_2),
    ],
)
def test_home_means_correspond_to_office_categories(
    systolic: float, diastolic: float, category: BloodPressureCategory
) -> None:
    assert home_blood_pressure_category(systolic, diastolic) is category


# --- Office and home together (Figures 2 and 3) -------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "finding"),
    [
        ((*OFFICE_RAISED, *home_week(124, 76)), HomeFinding.WHITE_COAT),
        ((*OFFICE_NORMAL, *home_week(134, 84)), HomeFinding.MASKED),
        ((*OFFICE_NORMAL, *home_week(129, 80)), HomeFinding.MASKED),  # diastolic 80 at home
        ((*OFFICE_NORMAL, *home_week(129, 79)), HomeFinding.CONCORDANT_BELOW),
        ((*OFFICE_RAISED, *home_week(138, 87)), HomeFinding.SUSTAINED),
        ((AMLODIPINE, *OFFICE_RAISED, *home_week(124, 76)), HomeFinding.WHITE_COAT_EFFECT),
        ((AMLODIPINE, *OFFICE_NORMAL, *home_week(134, 84)), HomeFinding.MASKED_UNCONTROLLED),
        ((AMLODIPINE, *OFFICE_RAISED, *home_week(134, 84)), HomeFinding.UNCONTROLLED),
        (home_week(134, 84), HomeFinding.HOME_ONLY),
        ((*OFFICE_RAISED,), HomeFinding.NO_HOME_READINGS),
        ((*OFFICE_RAISED, *home_week(124, 76, range(3, 0, -1))), HomeFinding.INCOMPLETE),
        ((*OFFICE_RAISED, *home_week(124, 76, range(30, 27, -1))), HomeFinding.ABANDONED),
    ],
    ids=lambda value: value.value if isinstance(value, HomeFinding) else "",
)
def test_office_and_home_together(resources: tuple[Any, ...], finding: HomeFinding) -> None:
    assert assess_home_blood_pressure(chart(*resources)).finding is finding


@pytest.mark.parametrize(
    ("resources", "who", "finding"),
    [
        # AAP 2017 does not diagnose from home readings: under 18, not read.
        ((*OFFICE_RAISED, *home_week(124, 76)), {"age": 17}, HomeFinding.CHILD),
        # ACOG's thresholds apply in pregnancy, not these.
        ((pregnancy(), *OFFICE_RAISED, *home_week(124, 76)), {}, HomeFinding.PREGNANT),
        # Diagnosed, untreated: the 130/80 is a goal (ACC/AHA 2017, 8.1.5), Figure 3's words.
        (
            (icd10_condition("I10", "Essential hypertension"), *OFFICE_RAISED, *home_week(124, 76)),
            {},
            HomeFinding.WHITE_COAT_EFFECT,
        ),
        ((*OFFICE_RAISED, *home_week(124, 76)), {"age": 18}, HomeFinding.WHITE_COAT),
    ],
    ids=["age 17", "pregnant", "diagnosed", "age 18"],
)
def test_who_the_home_series_is_read_for(
    resources: tuple[Any, ...], who: dict[str, Any], finding: HomeFinding
) -> None:
    assert assess_home_blood_pressure(chart(*resources, **who)).finding is finding
