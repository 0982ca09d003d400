"""The detail page's trends: the published bands, and the charts' placing of values."""

from __future__ import annotations

from dataclasses import replace

import pytest
from model_records import days_ago, measurement, reading, record

from cds_service.smart.trends import (
    BMI_BANDS,
    DIASTOLIC_BANDS,
    FASTING_GLUCOSE_BANDS,
    HBA1C_BANDS,
    SYSTOLIC_BANDS,
    Band,
    TrendChart,
    band_of,
    patient_trends,
    reading_category,
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
