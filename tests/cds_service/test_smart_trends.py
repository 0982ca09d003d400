"""The detail page's trends: the published bands, and the charts' placing of values."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from fhir_charts import blood_pressure, chart, pregnancy
from home_bp_charts import home_week
from model_records import AS_OF, days_ago, measurement, reading, record

from cds_service.smart.blood_pressure_trends import (
    DIASTOLIC_BANDS,
    SYSTOLIC_BANDS,
    reading_category,
)
from cds_service.smart.chart_geometry import Band, TrendChart, band_of
from cds_service.smart.trends import (
    BMI_BANDS,
    FASTING_GLUCOSE_BANDS,
    HBA1C_BANDS,
    patient_trends,
)
from fhir_adapters.codes import Measure
from fhir_adapters.patient_record import Measurement

# The cut-offs as published (ADA Standards of Care; WHO adult BMI; ACC/AHA 2017), written out.
BAND_EDGES = [
    (HBA1C_BANDS, 5.6, "Normal"),
    (HBA1C_BANDS, 5.7, "Prediabetes"),
    (HBA1C_BANDS, 6.4, "Prediabetes"),
    (HBA1C_BANDS, 6.5, "Diabetes range"),
    (FASTING_GLUCOSE_BANDS, 99, "Normal"),
    (FASTING_GLUCOSE_BANDS, 100, "Prediabetes"),
    (FASTING_GLUCOSE_BANDS, 125, "Prediabetes"),
    (FASTING_GLUCOSE_BANDS, 126, "Diabetes range"),
    (BMI_BANDS, 18.4, "Underweight"),
    (BMI_BANDS, 18.5, "Healthy"),
    (BMI_BANDS, 24.9, "Healthy"),
    (BMI_BANDS, 25.0, "Overweight"),
    (BMI_BANDS, 29.9, "Overweight"),
    (BMI_BANDS, 30.0, "Obesity"),
    (SYSTOLIC_BANDS, 119, "Normal"),
    (SYSTOLIC_BANDS, 120, "Elevated"),
    (SYSTOLIC_BANDS, 129, "Elevated"),
    (SYSTOLIC_BANDS, 130, "Stage 1"),
    (SYSTOLIC_BANDS, 139, "Stage 1"),
    (SYSTOLIC_BANDS, 140, "Stage 2"),
    (DIASTOLIC_BANDS, 79, "Normal"),
    (DIASTOLIC_BANDS, 80, "Stage 1"),
    (DIASTOLIC_BANDS, 89, "Stage 1"),
    (DIASTOLIC_BANDS, 90, "Stage 2"),
]


@pytest.mark.parametrize(("bands", "value", "expected"), BAND_EDGES)
def test_values_fall_in_the_published_bands(
    bands: tuple[Band, ...], value: float, expected: str
) -> None:
    band = band_of(value, bands)
    assert band is not None
    assert band.short == expected


@pytest.mark.parametrize(
    ("systolic", "diastolic", "category"),
    [
        (118, 76, "Normal"),
        (124, 78, "Elevated"),
        (124, 80, "Stage 1 hypertension range"),  # the diastolic alone decides
        (134, 70, "Stage 1 hypertension range"),
        (142, 70, "Stage 2 hypertension range"),
        (118, 92, "Stage 2 hypertension range"),
        (None, 70, "incomplete reading"),
    ],
)
def test_a_reading_takes_the_higher_category_of_its_two_numbers(
    systolic: float | None, diastolic: float | None, category: str
) -> None:
    assert reading_category(systolic, diastolic) == category


def chart_of(charts: tuple[TrendChart, ...], key: str) -> TrendChart:
    return next(chart for chart in charts if chart.kind.key == key)


def test_a_chart_places_later_values_right_and_higher_values_up() -> None:
    patient = record(
        measurements=(
            measurement(Measure.HBA1C, 6.8, days=30),
            measurement(Measure.HBA1C, 5.4, days=400),
            measurement(Measure.HBA1C, 6.1, days=900),
        )
    )
    hba1c = chart_of(patient_trends(patient).charts, "hba1c")
    oldest, middle, newest = hba1c.values
    assert [v.value for v in hba1c.values] == [6.1, 5.4, 6.8]
    assert oldest.x < middle.x < newest.x
    assert newest.y < oldest.y < middle.y  # SVG's y grows downwards
    assert [v.band.short if v.band else None for v in hba1c.values] == [
        "Prediabetes",
        "Normal",
        "Diabetes range",
    ]
    # Each value lies inside the drawn band it is said to be in.
    for value in hba1c.values:
        drawn = next(b for b in hba1c.bands if value.band and b.label == value.band.label)
        assert drawn.top <= value.y <= drawn.top + drawn.height
    assert hba1c.line == " ".join(f"{v.x},{v.y}" for v in hba1c.values)
    assert hba1c.summary.startswith("HbA1c: 3 values from")
    assert "latest 6.8 % (diabetes range)" in hba1c.summary


def test_only_the_last_ten_years_are_drawn_and_a_value_held_twice_once() -> None:
    twice = measurement(Measure.BMI, 31.0, days=100)
    patient = record(
        measurements=(
            twice,
            replace(twice, source="Observation/copy"),
            measurement(Measure.BMI, 28.0, days=365 * 11),
        ),
        blood_pressure=(reading(150, 95, 20), reading(120, 70, 365 * 12)),
    )
    trends = patient_trends(patient)
    assert [(v.value, v.source) for v in chart_of(trends.charts, "bmi").values] == [
        (31.0, "Observation/bmi")
    ]
    assert [(row.systolic, row.diastolic) for row in trends.blood_pressure] == [(150, 95)]
    assert trends.blood_pressure[0].category == "Stage 2 hypertension range"
    assert chart_of(trends.charts, "systolic").values[0].effective == days_ago(20)


def test_a_computed_bmi_is_marked_and_a_random_glucose_has_no_bands() -> None:
    computed = replace(
        measurement(Measure.BMI, 27.0),
        derived_from=("Observation/weight", "Observation/height"),
    )
    random_glucose = Measurement(
        Measure.GLUCOSE_RANDOM, 180.0, "mg/dL", days_ago(10), "Observation/glucose"
    )
    patient = record(measurements=(computed, random_glucose))
    charts = patient_trends(patient).charts
    assert chart_of(charts, "bmi").values[0].derived
    glucose = chart_of(charts, "glucose-random")
    assert glucose.bands == ()
    assert glucose.values[0].band is None
    assert chart_of(charts, "glucose-fasting").values == ()
    assert "no values recorded" in chart_of(charts, "glucose-fasting").summary


# --- Home readings and whose categories (ACC/AHA 2017, AAP 2017, ACOG) ----------------------


def test_home_readings_are_drawn_apart_with_the_series_mean_and_home_thresholds() -> None:
    """ACC/AHA 2017, section 4.2: home readings are read as a series mean against the home
    thresholds of Table 11 (130/80; 135/85 = office 140/90), not one by one as office ones."""
    office = (blood_pressure(142, 88, days=20), blood_pressure(142, 88, days=50))
    trends = patient_trends(chart(*office, *home_week(124, 76)))
    systolic = chart_of(trends.charts, "systolic")
    home = [v for v in systolic.values if v.home]
    assert len(home) == 28
    assert [v.value for v in systolic.values if not v.home] == [142, 142]
    # The office line joins the office readings only.
    assert systolic.line.count(",") == 2
    assert {r.label for r in systolic.references} == {
        "Home mean 124 (latest series)",
        "Home threshold 130",
        "Home threshold 135",
    }
    diastolic = chart_of(trends.charts, "diastolic")
    assert {r.value for r in diastolic.references} == {76, 80, 85}
    assert "Home readings: 28" in systolic.summary
    # A home reading is named by the home range it falls in, not as an office category.
    home_rows = [row for row in trends.blood_pressure if row.home]
    assert {row.setting for row in home_rows} == {"Home"}
    assert (
        home_rows[0].category == "Home elevated (one home reading; the series mean is what is read)"
    )
    assert trends.home_series is not None
    lines = " ".join(trends.home_series.lines)
    assert "mean 124/76 mmHg from 24 readings on 6 days" in lines
    assert "White-coat hypertension" in lines


def test_an_incomplete_home_series_says_what_it_needs_on_the_page() -> None:
    trends = patient_trends(chart(*home_week(124, 76, range(3, 0, -1))))
    assert trends.home_series is not None
    assert not trends.home_series.complete
    assert any("it needs 4 more readings" in line for line in trends.home_series.lines)
    # No mean line for a series not read yet; the home thresholds still show.
    labels = {r.label for r in chart_of(trends.charts, "systolic").references}
    assert labels == {"Home threshold 130", "Home threshold 135"}


def test_an_adolescents_readings_are_named_by_aap_2017() -> None:
    """AAP 2017: from 13 the categories are the adult numbers, under that guideline's name."""
    trends = patient_trends(chart(blood_pressure(134, 84, days=10), age=15))
    (row,) = trends.blood_pressure
    assert row.category == "Stage 1 hypertension range (AAP 2017, ages 13-17)"
    assert "AAP 2017" in trends.blood_pressure_note
    assert [b.short for b in chart_of(trends.charts, "systolic").bands][-1] == "Stage 2"


def test_a_child_under_13_gets_no_adult_category_and_no_bands() -> None:
    """AAP 2017: under 13, percentiles for age, sex and height; the page computes none."""
    trends = patient_trends(chart(blood_pressure(124, 82, days=10), age=8))
    (row,) = trends.blood_pressure
    assert "Stage" not in row.category
    assert row.category.startswith("No adult category under 13")
    assert "percentiles for age, sex and height" in row.category
    assert chart_of(trends.charts, "systolic").bands == ()
    assert chart_of(trends.charts, "systolic").values[0].band is None
    assert "percentiles" in trends.blood_pressure_note


def test_a_reading_is_named_by_the_age_it_was_taken_at() -> None:
    # Born 14 years and a bit before the chart's date: the reading of 2 years ago was at 12.
    born = date(AS_OF.year - 14, 1, 1)
    trends = patient_trends(
        chart(blood_pressure(124, 82, days=10), blood_pressure(124, 82, days=730), born=born)
    )
    newer, older = trends.blood_pressure
    assert newer.category == "Stage 1 hypertension range (AAP 2017, ages 13-17)"
    assert older.category.startswith("No adult category under 13")


@pytest.mark.parametrize(
    ("systolic", "diastolic", "category"),
    [
        (138, 88, "Below 140/90 (ACOG, in pregnancy)"),
        (140, 80, "Hypertensive range in pregnancy (ACOG: 140/90 or more)"),
        (128, 90, "Hypertensive range in pregnancy (ACOG: 140/90 or more)"),
        (160, 100, "Severe range in pregnancy (ACOG: 160/110 or more)"),
        (150, 110, "Severe range in pregnancy (ACOG: 160/110 or more)"),
    ],
)
def test_readings_in_pregnancy_are_named_by_acog_not_the_adult_stages(
    systolic: float, diastolic: float, category: str
) -> None:
    """ACOG Practice Bulletin 222: 140/90 or more the hypertensive range in pregnancy, 160/110
    or more severe; the adult ACC/AHA stages do not apply."""
    before = blood_pressure(128, 82, days=300)  # before the pregnancy began (150 days ago)
    trends = patient_trends(chart(pregnancy(), blood_pressure(systolic, diastolic, 5), before))
    during, earlier = trends.blood_pressure
    assert during.category == category
    assert earlier.category == "Stage 1 hypertension range"
    assert [b.label for b in chart_of(trends.charts, "systolic").kind.bands] == [
        "Below (< 140)",
        "Hypertensive (140-159)",
        "Severe (>= 160)",
    ]
    assert "ACOG" in trends.blood_pressure_note
