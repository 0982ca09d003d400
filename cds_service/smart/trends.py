"""The detail page's trends: HbA1c, glucose, BMI and blood pressure over time, with their bands.

Pure geometry for a server-drawn SVG (the page runs no script, `chart_geometry` places the
values): each chart's points placed in a fixed viewBox, the clinical bands behind them as
shaded ranges, and the ticks. Every chart also carries its values as rows, which the page
prints as a table: the drawing is for the eye, the table is what a screen reader and a careful
reader use.

Bands: HbA1c and fasting glucose, ADA Standards of Care (normal, prediabetes, diabetes range);
BMI, the WHO adult categories; blood pressure, as `blood_pressure_trends` says (ACC/AHA 2017
for adults, AAP 2017 for adolescents, none under 13, ACOG in pregnancy; home readings apart).
The cut-offs are those of `models.criteria`, as everywhere else. A glucose not recorded as
fasting is drawn without bands: the fasting cut-offs do not apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from cds_service.smart.blood_pressure_trends import (
    BloodPressureRow,
    HomeSeriesView,
    blood_pressure_trends,
)
from cds_service.smart.chart_geometry import (
    HIGH,
    NORMAL,
    TREND_YEARS,
    WATCH,
    ChartKind,
    Dated,
    TrendChart,
    bands_between,
    chart,
)
from fhir_adapters.codes import Measure
from fhir_adapters.patient_record import PatientRecord
from models.criteria import (
    BMI_HEALTHY,
    BMI_OBESITY,
    BMI_OVERWEIGHT,
    FASTING_GLUCOSE_DIABETES,
    FASTING_GLUCOSE_DYSGLYCEMIA,
    HBA1C_DIABETES,
    HBA1C_DYSGLYCEMIA,
)

HBA1C_BANDS = bands_between(
    (HBA1C_DYSGLYCEMIA, HBA1C_DIABETES),
    (("Normal", NORMAL), ("Prediabetes", WATCH), ("Diabetes range", HIGH)),
    0.1,
    "%",
)
FASTING_GLUCOSE_BANDS = bands_between(
    (FASTING_GLUCOSE_DYSGLYCEMIA, FASTING_GLUCOSE_DIABETES),
    (("Normal", NORMAL), ("Prediabetes", WATCH), ("Diabetes range", HIGH)),
    1.0,
)
BMI_BANDS = bands_between(
    (BMI_HEALTHY, BMI_OVERWEIGHT, BMI_OBESITY),
    (("Underweight", WATCH), ("Healthy", NORMAL), ("Overweight", WATCH), ("Obesity", HIGH)),
    0.1,
)


@dataclass(frozen=True)
class Trends:
    """Every chart the page draws, the blood pressure readings as rows, and the home series."""

    since: date
    charts: tuple[TrendChart, ...]
    blood_pressure: tuple[BloodPressureRow, ...]
    # Which guideline's categories the blood pressure bands and rows follow, in words.
    blood_pressure_note: str = "blood pressure, ACC/AHA 2017 adult categories"
    home_series: HomeSeriesView | None = None


HBA1C = ChartKind("hba1c", "HbA1c", "%", 1, HBA1C_BANDS)
FASTING_GLUCOSE = ChartKind("glucose-fasting", "Fasting glucose", "mg/dL", 0, FASTING_GLUCOSE_BANDS)
RANDOM_GLUCOSE = ChartKind("glucose-random", "Glucose, not recorded as fasting", "mg/dL", 0, ())
BMI = ChartKind("bmi", "BMI", "kg/m2", 1, BMI_BANDS)
MEASURE_CHARTS = (
    (Measure.HBA1C, HBA1C),
    (Measure.GLUCOSE_FASTING, FASTING_GLUCOSE),
    (Measure.GLUCOSE_RANDOM, RANDOM_GLUCOSE),
    (Measure.BMI, BMI),
)


def patient_trends(record: PatientRecord) -> Trends:
    """The charts of this record, from `TREND_YEARS` before its date up to it."""
    since = record.as_of - timedelta(days=round(365.25 * TREND_YEARS))

    def recent(values: list[Dated]) -> list[Dated]:
        # EHRs often hold one measurement twice (same moment, same value): drawn once.
        once: dict[tuple[datetime, float], Dated] = {}
        for item in values:
            once.setdefault(item[:2], item)
        return sorted(item for item in once.values() if item[0].date() >= since)

    charts = [
        chart(
            kind,
            recent(
                [
                    (m.effective, m.value, m.source, bool(m.derived_from))
                    for m in record.history(measure)
                ]
            ),
            since,
            record.as_of,
        )
        for measure, kind in MEASURE_CHARTS
    ]
    pressure = blood_pressure_trends(record, since)
    return Trends(
        since,
        (*charts, pressure.systolic, pressure.diastolic),
        pressure.rows,
        pressure.note,
        pressure.home,
    )
